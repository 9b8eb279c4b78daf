"""The virtual citizen card: short-lived signed credentials a citizen shows to agency terminals
(docs/virtual-card.md). The format and its offline check are ``cardverify``; here the hub issues."""
