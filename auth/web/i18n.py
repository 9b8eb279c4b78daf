"""Simplified Chinese (the default) and English for the citizen pages.

The language comes from ``?lang=zh-CN`` or ``?lang=en`` (remembered in the session), else from the
browser's Accept-Language, else Chinese. Every message id exists in both languages; the scope
catalogue (``auth/scopes.py``) is translated here too, so a citizen reads what a scope reveals in
their own language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from starlette.requests import Request

from auth.scopes import BY_NAME

ZH = "zh-CN"
EN = "en"
LANGUAGES = (ZH, EN)
DEFAULT = ZH
SESSION_KEY = "lang"
# The language names as their own speakers write them, for the switch links.
NATIVE_NAMES = {ZH: "中文", EN: "English"}

MESSAGES: Mapping[str, Mapping[str, str]] = {
    ZH: {
        "site_name": "市民卡",
        "site_tagline": "我的数据由我做主",
        "skip_to_content": "跳到正文",
        "language": "语言",
        "signed_in_as": "已登录：{card}",
        "logout": "退出登录",
        "my_data": "我的数据",
        "footer": "市民卡数据中心。未经您的同意，任何应用都不能读取您的数据。",
        "login_title": "登录市民卡",
        "login_intro": "登录后即可查看哪些应用可以读取您的数据，并随时撤回授权。",
        "username": "用户名",
        "password": "密码",
        "login_submit": "登录",
        "login_failed": "用户名或密码不正确，请重新输入。",
        "login_unavailable": "本服务目前未开放市民登录。",
        "login_throttled": "登录尝试次数过多，请稍后再试。",
        "logged_out": "您已安全退出登录。",
        "upstream_intro": "请使用城市统一身份认证账号登录。",
        "upstream_login": "使用城市统一身份认证登录",
        "upstream_retry": "重新登录",
        "upstream_not_logged_in": "您尚未登录，未做任何更改。",
        "error_upstream_unavailable": "城市统一身份认证服务暂时无法使用，请稍后再试。",
        "error_upstream_rejected": "无法确认此次登录，为保护您的数据，本次登录未被接受。请重新登录。",
        "error_upstream_unlinked": "您的城市账号尚未关联市民卡。请携带身份证件到市民卡服务网点办理关联。",
        "consent_title": "是否允许“{client}”读取您的数据？",
        "consent_app_id": "应用编号：{client_id}",
        "consent_purpose": "用途",
        "consent_choose_hint": "请只勾选您愿意分享的项目。您可以随时在“我的数据”中撤回。",
        "consent_group_regular": "个人信息",
        "consent_group_sensitive": "敏感个人信息",
        "consent_sensitive_note": (
            "根据《个人信息保护法》，健康和财务等敏感信息需要您逐项单独同意。以下项目默认不勾选，只有您勾选的才会分享。"
        ),
        "consent_sensitive_badge": "敏感",
        "consent_already": "此前已同意",
        "consent_already_note": "以下项目您之前已经同意，无需再次选择。",
        "consent_source": "数据来源：{source}",
        "consent_lifetime": "授权有效期为 {days} 天，到期后应用需要重新征得您的同意。",
        "consent_allow": "同意所选项目",
        "consent_deny": "拒绝",
        "me_title": "我的数据",
        "me_greeting": "{name}，您好",
        "me_card": "市民卡号：{card}",
        "consents_heading": "授权管理",
        "consents_intro": "这些应用和机构经您同意可以读取您的部分数据。您可以逐项撤回，也可以撤回全部授权。",
        "consents_none": "您还没有授权任何应用读取您的数据。",
        "consents_active": "有效的授权",
        "consents_past": "已结束的授权",
        "purpose": "用途",
        "granted_at": "授权时间",
        "expires_at": "到期时间",
        "updated_at": "最近变更",
        "may_read": "可以读取",
        "nothing_readable": "无",
        "withdrawn": "已撤回：{scopes}",
        "revoke_scope": "撤回",
        "revoke_scope_label": "撤回“{client}”读取“{scope}”的授权",
        "revoke_all": "撤回全部授权",
        "revoke_all_label": "撤回对“{client}”的全部授权",
        "history": "变更记录（{count}）",
        "history_scopes": "变更后可读取：{scopes}",
        "revoked_one": "已撤回“{client}”读取“{scope}”的授权。",
        "revoked_all": "已撤回对“{client}”的全部授权，它不能再读取您的数据。",
        "access_log_heading": "访问记录",
        "access_log_intro": "最近 {count} 条读取您数据的记录（包括被拒绝的），最新的在前。",
        "access_log_none": "还没有任何读取记录。",
        "log_show": "显示",
        "log_all": "读取和拒绝",
        "log_reads": "仅读取",
        "log_refused": "仅拒绝",
        "log_any_client": "所有应用",
        "log_filter": "筛选",
        "log_older": "更早的记录",
        "probes_heading": "您从未授权的应用被拒绝的请求",
        "probes_intro": "这些应用请求过您的数据，但您从未授权给它们，所以都被拒绝了。"
        "它们按应用合计，不会挤掉上面的读取记录。",
        "probes_line": "被拒绝 {count} 次，最近一次 {last}",
        "probes_show": "逐条查看",
        "col_when": "时间",
        "col_client": "应用",
        "col_sections": "数据",
        "col_outcome": "结果",
        "timezone_note": "时间均为北京时间（UTC+8）。",
        "status_ACTIVE": "有效",
        "status_REVOKED": "已撤回",
        "status_EXPIRED": "已过期",
        "status_PAUSED": "已暂停",
        "action_PAUSED": "暂停",
        "action_RESUMED": "恢复",
        "reason_CONSENT_PAUSED": "授权已暂停",
        "pause": "暂停授权",
        "pause_label": "暂停对“{client}”的授权",
        "resume": "恢复授权",
        "resume_label": "恢复对“{client}”的授权",
        "paused_note": "已暂停：该应用现在读取不到您的数据，但它的登录仍然有效。到期时间不变。",
        "receipt": "回执",
        "receipt_label": "下载这次变更的签名回执",
        "paused_done": "已暂停“{client}”的授权。",
        "resumed_done": "已恢复“{client}”的授权。",
        "export_heading": "下载我的数据",
        "export_intro": "一份包含您的个人资料、各部门数据、授权记录和访问记录的副本（JSON 和中英文 PDF）。",
        "export_start": "生成我的数据副本",
        "export_running": "正在生成：{progress}%（{step}）",
        "export_refresh": "此页面会自动刷新。",
        "export_done": "已生成。下载链接只能使用一次，几分钟内有效。",
        "export_download": "下载",
        "export_failed": "生成失败，请重试。",
        "export_limited": "今天生成次数已达上限，请 {minutes} 分钟后再试。",
        "action_GRANTED": "授权",
        "action_WIDENED": "扩大授权",
        "action_RENEWED": "续期",
        "action_NARROWED": "部分撤回",
        "action_REVOKED": "全部撤回",
        "action_EXPIRED": "到期",
        "outcome_ALLOWED": "已读取",
        "outcome_DENIED": "已拒绝",
        "reason_CONSENT_REQUIRED": "未经授权",
        "reason_CONSENT_REVOKED": "授权已撤回",
        "reason_CONSENT_EXPIRED": "授权已过期",
        "reason_FORBIDDEN": "无权读取",
        "section_profile": "个人资料",
        "me_virtual_card": "出示虚拟卡",
        "error_title": "无法完成操作",
        "error_csrf": "表单已过期，或并非从本站提交。请返回上一页，刷新后重试。",
        "error_consent_not_found": "找不到这项授权。",
        "error_consent_not_active": "这项授权{state}，无需再撤回。",
        "error_scope_not_granted": "这项授权不包括“{scope}”，可能已经撤回。",
        "error_not_found": "页面不存在。",
        "error_generic": "操作未能完成，请稍后重试。",
        "error_bad_authorization_request": "这个授权请求无效，无法继续。请返回应用重新发起。{detail}",
        "error_login_required": "登录已过期，请重新登录后再试。",
        "error_back_me": "返回我的数据",
        "error_back_login": "前往登录",
    },
    EN: {
        "site_name": "Citizen Card",
        "site_tagline": "Your data, your say",
        "skip_to_content": "Skip to content",
        "language": "Language",
        "signed_in_as": "Signed in: {card}",
        "logout": "Log out",
        "my_data": "My data",
        "footer": "Citizen Card data hub. No app can read your data without your consent.",
        "login_title": "Log in to your citizen card",
        "login_intro": "Log in to see which apps may read your data, and to withdraw your consent at any time.",
        "username": "Username",
        "password": "Password",
        "login_submit": "Log in",
        "login_failed": "Wrong username or password. Please try again.",
        "login_unavailable": "Citizen login is not available on this service at the moment.",
        "login_throttled": "Too many login attempts. Please wait a moment and try again.",
        "logged_out": "You have logged out.",
        "upstream_intro": "Log in with your city account.",
        "upstream_login": "Log in with the city's identity service",
        "upstream_retry": "Log in again",
        "upstream_not_logged_in": "You are not logged in, and nothing was changed.",
        "error_upstream_unavailable": "The city's identity service is not available right now. Please try again later.",
        "error_upstream_rejected": (
            "This login could not be verified, so it was not accepted, to protect your data. Please log in again."
        ),
        "error_upstream_unlinked": (
            "Your city account is not linked to a citizen card yet. "
            "Please bring your ID to a citizen card service point to have it linked."
        ),
        "consent_title": "Allow “{client}” to read your data?",
        "consent_app_id": "App ID: {client_id}",
        "consent_purpose": "Purpose",
        "consent_choose_hint": "Tick only what you are willing to share. You can withdraw it any time under My data.",
        "consent_group_regular": "Personal information",
        "consent_group_sensitive": "Sensitive personal information",
        "consent_sensitive_note": (
            "Under China's Personal Information Protection Law, sensitive information such as health and "
            "financial records needs your separate consent, item by item. These are not ticked: only what you "
            "tick is shared."
        ),
        "consent_sensitive_badge": "Sensitive",
        "consent_already": "Allowed earlier",
        "consent_already_note": "You allowed these before; there is nothing to choose.",
        "consent_source": "Comes from: {source}",
        "consent_lifetime": "Your consent lasts {days} days; after that the app has to ask you again.",
        "consent_allow": "Allow selected",
        "consent_deny": "Deny",
        "me_title": "My data",
        "me_greeting": "Hello, {name}",
        "me_card": "Citizen card number: {card}",
        "consents_heading": "Who may read your data",
        "consents_intro": (
            "These apps and agencies may read parts of your data because you allowed it. Withdraw one item "
            "or the whole consent at any time."
        ),
        "consents_none": "You have not allowed any app to read your data.",
        "consents_active": "Active consents",
        "consents_past": "Past consents",
        "purpose": "Purpose",
        "granted_at": "Granted",
        "expires_at": "Expires",
        "updated_at": "Last changed",
        "may_read": "May read",
        "nothing_readable": "nothing",
        "withdrawn": "Withdrawn: {scopes}",
        "revoke_scope": "Withdraw",
        "revoke_scope_label": "Withdraw “{client}”'s access to {scope}",
        "revoke_all": "Revoke the whole consent",
        "revoke_all_label": "Revoke the whole consent given to “{client}”",
        "history": "History ({count})",
        "history_scopes": "May read afterwards: {scopes}",
        "revoked_one": "“{client}” may no longer read {scope}.",
        "revoked_all": "You revoked the consent given to “{client}”: it can no longer read your data.",
        "access_log_heading": "Access log",
        "access_log_intro": "The last {count} reads of your data, refused ones included, newest first.",
        "access_log_none": "Nothing has read your data yet.",
        "log_show": "Show",
        "log_all": "Reads and refusals",
        "log_reads": "Reads only",
        "log_refused": "Refusals only",
        "log_any_client": "Every app",
        "log_filter": "Filter",
        "log_older": "Older entries",
        "probes_heading": "Refused requests by apps you never allowed",
        "probes_intro": "These apps asked for your data without your consent and were refused. They are counted "
        "per app, so they never push the reads above out of sight.",
        "probes_line": "refused {count} times, latest {last}",
        "probes_show": "List them",
        "col_when": "When",
        "col_client": "App",
        "col_sections": "Data",
        "col_outcome": "Outcome",
        "timezone_note": "Times are China Standard Time (UTC+8).",
        "status_ACTIVE": "Active",
        "status_REVOKED": "Revoked",
        "status_EXPIRED": "Expired",
        "status_PAUSED": "Paused",
        "action_PAUSED": "Paused",
        "action_RESUMED": "Resumed",
        "reason_CONSENT_PAUSED": "consent paused",
        "pause": "Pause",
        "pause_label": "Pause the consent given to “{client}”",
        "resume": "Resume",
        "resume_label": "Resume the consent given to “{client}”",
        "paused_note": "Paused: this app cannot read your data now, and stays signed in. The expiry is unchanged.",
        "receipt": "receipt",
        "receipt_label": "Download the signed receipt of this change",
        "paused_done": "Your consent for “{client}” is paused.",
        "resumed_done": "Your consent for “{client}” is resumed.",
        "export_heading": "Download my data",
        "export_intro": "A copy of your profile, the agencies' data, your consents and your access log (JSON, and "
        "a PDF in Chinese and English).",
        "export_start": "Make a copy of my data",
        "export_running": "Making it: {progress}% ({step})",
        "export_refresh": "This page refreshes by itself.",
        "export_done": "Ready. The download link works once, for a few minutes.",
        "export_download": "Download",
        "export_failed": "It could not be made. Please try again.",
        "export_limited": "You have made as many copies as allowed today: try again in {minutes} minutes.",
        "action_GRANTED": "Granted",
        "action_WIDENED": "Widened",
        "action_RENEWED": "Renewed",
        "action_NARROWED": "Narrowed",
        "action_REVOKED": "Revoked",
        "action_EXPIRED": "Expired",
        "outcome_ALLOWED": "Read",
        "outcome_DENIED": "Refused",
        "reason_CONSENT_REQUIRED": "no consent",
        "reason_CONSENT_REVOKED": "consent revoked",
        "reason_CONSENT_EXPIRED": "consent expired",
        "reason_FORBIDDEN": "not permitted",
        "section_profile": "Profile",
        "me_virtual_card": "Show my virtual card",
        "error_title": "That did not work",
        "error_csrf": ("This form has expired or was not sent from this site. Go back, reload the page and try again."),
        "error_consent_not_found": "There is no such consent.",
        "error_consent_not_active": "This consent is no longer active ({state}): there is nothing left to withdraw.",
        "error_scope_not_granted": "This consent does not include {scope}; it may have been withdrawn already.",
        "error_not_found": "There is no such page.",
        "error_generic": "That could not be done; please try again later.",
        "error_bad_authorization_request": (
            "This authorization request is not valid. Go back to the app and start again. {detail}"
        ),
        "error_login_required": "Your login has expired. Please log in and try again.",
        "error_back_me": "Back to My data",
        "error_back_login": "Go to the login page",
    },
}

# Each catalogue scope in Chinese; English uses the catalogue's own words (auth/scopes.py).
SCOPE_NAMES: Mapping[str, Mapping[str, str]] = {
    ZH: {
        "card": "市民卡",
        "social_security": "社会保险",
        "transit": "公共交通",
        "health": "健康医疗",
        "housing_fund": "住房公积金",
        "library": "图书馆",
        "profile": "个人资料",
    },
    EN: {
        "card": "Citizen card",
        "social_security": "Social security",
        "transit": "Transit",
        "health": "Health",
        "housing_fund": "Housing provident fund",
        "library": "Library",
        "profile": "Profile",
    },
}
# Access-log entries that are not a plain section: a virtual card shown, a data export's reads.
ACCESS_KINDS: Mapping[str, Mapping[str, str]] = {
    ZH: {"virtual_card": "出示虚拟卡（{what}）", "export": "数据导出：{what}"},
    EN: {"virtual_card": "Virtual card shown ({what})", "export": "Data export: {what}"},
}
PURPOSE_NAMES: Mapping[str, Mapping[str, str]] = {
    ZH: {"transit": "乘车", "library": "图书馆", "clinic": "就医", "identity": "身份核验"},
    EN: {"transit": "transit", "library": "library", "clinic": "clinic", "identity": "identity"},
}
SCOPE_REVEALS_ZH: Mapping[str, str] = {
    "card": "您的市民卡：卡号、状态、发卡日期、虚拟卡",
    "social_security": "参保情况、医保个人账户余额、缴费记录",
    "transit": "e通卡余额、乘车优惠类型和近期乘车记录",
    "health": "健康卡、签约基层医疗机构、就诊记录、疫苗接种记录",
    "housing_fund": "公积金账户、余额、缴存记录、工作单位、贷款",
    "library": "借书证、借阅、预约和罚款",
}
SOURCES: Mapping[str, Mapping[str, str]] = {
    ZH: {
        "cardhub": "市民卡中心",
        "social_security": "人力资源和社会保障局",
        "transit": "e通卡公司",
        "health": "卫生健康委员会",
        "housing_fund": "住房公积金管理中心",
        "library": "市图书馆",
    },
    EN: {
        "cardhub": "Citizen Card Centre",
        "social_security": "Human Resources and Social Security Bureau",
        "transit": "E-Tong transit card company",
        "health": "Health Commission",
        "housing_fund": "Housing Provident Fund Management Centre",
        "library": "City Library",
    },
}


class _Blank(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""


def format_message(lang: str, message_id: str, params: Mapping[str, object]) -> str:
    """The message in ``lang``, a missing parameter left blank; an unknown id gives the generic error."""
    messages = MESSAGES[lang]
    return messages.get(message_id, messages["error_generic"]).format_map(_Blank(params))


def parse_accept_language(header: str) -> str | None:
    """The supported language the browser prefers most (q-values honoured), or None."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        language = _supported(tag.strip())
        if language is not None and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def _supported(tag: str) -> str | None:
    primary = tag.lower().split("-")[0]
    # Traditional-script tags (zh-TW, zh-Hant) still read Simplified better than English on average.
    if primary == "zh":
        return ZH
    if primary == "en":
        return EN
    return None


def choose_language(request: Request) -> str:
    """?lang= (remembered in the session), else the session's, else Accept-Language, else Chinese."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        request.session[SESSION_KEY] = asked
        return asked
    remembered = request.session.get(SESSION_KEY)
    if remembered in LANGUAGES:
        return str(remembered)
    return parse_accept_language(request.headers.get("accept-language", "")) or DEFAULT


@dataclass(frozen=True, slots=True)
class Translator:
    """``t("message_id", name=...)`` in templates, plus the scope catalogue in this language."""

    lang: str

    def __call__(self, message_id: str, **params: object) -> str:
        return format_message(self.lang, message_id, params)

    def has(self, message_id: str) -> bool:
        return message_id in MESSAGES[self.lang]

    def scope(self, name: str) -> str:
        kind, _, what = name.partition(".")  # "virtual_card.transit", "export.library"
        if what and kind in ACCESS_KINDS[self.lang]:
            names = PURPOSE_NAMES if kind == "virtual_card" else SCOPE_NAMES
            named = names[self.lang].get(what, what)
            return ACCESS_KINDS[self.lang][kind].format(what=named)
        return SCOPE_NAMES[self.lang].get(name, name)

    def scope_list(self, names: Iterable[str]) -> str:
        return ("、" if self.lang == ZH else ", ").join(self.scope(n) for n in names)

    def reveals(self, name: str) -> str:
        if self.lang == ZH and name in SCOPE_REVEALS_ZH:
            return SCOPE_REVEALS_ZH[name]
        known = BY_NAME.get(name)
        return known.reveals if known else ""

    def source(self, source: str) -> str:
        return SOURCES[self.lang].get(source, source)

    def coded(self, prefix: str, code: str) -> str:
        """A status, action, outcome or reason code in words; the code itself if it is a new one."""
        key = f"{prefix}_{code}"
        return self(key) if self.has(key) else code
