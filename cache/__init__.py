"""The section cache: agency answers kept per citizen and section, behind one interface, in process
memory (the default) or in Redis (shared by every hub instance). See cache/sections.py."""
