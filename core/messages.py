"""Every text a user sees, in Traditional Chinese (default) and English, in one place.

The guide's own wording is kept where the guide gives one (R1, R3, R4, R6), so holders
who have read the port company's instructions recognise what the bot says. Channels
look texts up by key; no handler writes a sentence of its own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from core.errors import PortPassError

ZH = "zh-TW"
EN = "en"
LANGUAGES = (ZH, EN)

#: Taiwan has kept UTC+8 without daylight saving since 1979; a fixed offset avoids
#: depending on the host's tz database.
TAIPEI = timezone(timedelta(hours=8), "Asia/Taipei")

_CATALOGUE: dict[str, tuple[str, str]] = {
    # --- input that does not parse: always say what is expected, with an example -------
    "input.pass_no": (
        "通行證號格式不正確，請輸入如 KHPS113-000043 的通行證號。",
        "That is not a pass number. Please type it like KHPS113-000043.",
    ),
    "input.id_no": (
        "身分證號格式不正確，請輸入如 A123456789 的身分證號或居留證號。",
        "That is not an ID number. Please type it like A123456789 (ID or resident certificate).",
    ),
    "input.id_checksum": (
        "身分證號 {value} 的檢查碼不符，可能打錯了。請再確認一次；若確定無誤，請再輸入一次同一號碼。",
        "The check digit of ID number {value} does not match; it may be a typo. Please check "
        "it; if it is right, type the same number again.",
    ),
    "input.phone": (
        "手機號碼格式不正確，請輸入如 0912345678 的台灣手機號碼。",
        "That is not a mobile number. Please type a Taiwanese mobile like 0912345678.",
    ),
    "input.phone_region": (
        "只能驗證台灣手機號碼，請輸入如 0912345678 的號碼。",
        "Only Taiwanese mobile numbers can be verified. Please type one like 0912345678.",
    ),
    "input.code": (
        "請輸入6位數字驗證碼",
        "Please enter the 6-digit verification code.",
    ),
    # --- requesting a code -----------------------------------------------------------------
    "request.confirm": (
        "確定要取得{pass_no}人員通行證的手機驗證碼??",
        "Get a verification code for pass {pass_no}?",
    ),
    "request.confirm_operator": (
        "確定要取得{pass_no}人員通行證手機({phone})驗證碼??",
        "Send a verification code for pass {pass_no} to {phone}?",
    ),
    "request.sent": (
        "驗證碼已經成功送出!!",
        "The verification code has been sent!",
    ),
    "request.no_match": (
        "查無人員通行證或手機資料，無法取得驗證碼！請確認通行證號、身分證號、手機號碼是否正確，"
        "以及手機號碼是否與系統中基本資料所登錄的相同；若需修改，請洽業者申請人。",
        "No pass or phone data found; cannot get a code. Please check the pass number, ID "
        "number and phone, and that the phone is the one on file; your company's pass "
        "administrator can change it.",
    ),
    "request.cool_down": (
        "查詢失敗次數過多，請於 {retry_at} 後再試。",
        "Too many failed attempts. Please try again after {retry_at}.",
    ),
    "request.already": (
        "同一筆通行證號、身分證號與手機號碼的組合，24小時內只能取得驗證碼一次。請輸入已收到的驗證碼，"
        "或於 {retry_at} 後再取得新的驗證碼。",
        "This pass, ID and phone already got a code within 24 hours. Please enter the code you "
        "received, or ask for a new one after {retry_at}.",
    ),
    "request.pass_not_valid": (
        "此通行證不在有效期間內（{valid_from} 至 {valid_to}），無法驗證手機。",
        "This pass is not within its validity period ({valid_from} to {valid_to}), so its "
        "phone cannot be verified.",
    ),
    # --- operators ----------------------------------------------------------------------------
    "operator.no_phone": (
        "預設手機號碼空白，請先至「基本資料維護」/「人員資料」新增一筆該人員資料。",
        "The default phone is blank. Please first add this person's record (基本資料維護 / 人員資料).",
    ),
    "operator.pass_not_found": (
        "查無通行證 {pass_no}。",
        "No pass {pass_no} was found.",
    ),
    # --- checking a code or link --------------------------------------------------------------
    "check.verified": (
        "手機驗證完成！通行證 {pass_no} 已驗證手機 {phone}。",
        "Verified! Pass {pass_no} now has the verified phone {phone}.",
    ),
    "check.no_request": (
        "目前沒有等待驗證的驗證碼。如需驗證，請傳送「驗證」。",
        "No verification code is waiting for this number. To verify, send VERIFY.",
    ),
    "check.wrong_code": (
        "驗證碼不正確，還可以再試 {remaining} 次。",
        "That code is not right. You have {remaining} tries left.",
    ),
    "check.spent": (
        "驗證碼錯誤次數過多，此驗證碼已失效。請於 {retry_at} 後重新取得驗證碼，或請業者申請人代為發送。",
        "Too many wrong codes: this code no longer works. Ask for a new code after {retry_at}, "
        "or ask your company's pass administrator to send one.",
    ),
    "check.expired": (
        "驗證碼已超過24小時有效時限，請重新取得驗證碼。",
        "The code has expired (codes are valid for 24 hours). Please ask for a new one.",
    ),
    "check.already_verified": (
        "此驗證碼已使用過，手機已完成驗證。",
        "This code was already used; the phone is verified.",
    ),
    "link.unknown": (
        "此驗證連結無效或已過期，請重新取得驗證碼。",
        "This verification link is not valid or has expired. Please ask for a new code.",
    ),
    # --- the holder conversation (SMS and Telegram) -------------------------------------------
    "conv.ask_pass": (
        "請輸入通行證號（例：KHPS113-000043）。",
        "Please type your pass number (for example KHPS113-000043).",
    ),
    "conv.ask_id": (
        "請輸入身分證號（例：A123456789）。",
        "Please type your ID number (for example A123456789).",
    ),
    "conv.ask_phone": (
        "請輸入通行證登錄的手機號碼（例：0912345678），或按下方按鈕分享您的手機號碼。",
        "Please type the mobile number on file for this pass (for example 0912345678), or "
        "tap the button below to share your number.",
    ),
    "conv.share_contact": ("分享我的手機號碼", "Share my phone number"),
    "conv.contact_not_own": (
        "只能分享您自己的手機號碼。請輸入手機號碼（例：0912345678）。",
        "Only your own number can be shared. Please type the mobile number (for example "
        "0912345678).",
    ),
    "conv.confirm_hint": ("回覆 1 確認，2 取消", "Reply 1 to confirm, 2 to cancel"),
    "conv.ask_code": ("請輸入6位數字驗證碼", "Please enter the 6-digit verification code."),
    "conv.ask_code_hint": (
        "請輸入簡訊中的6位數字驗證碼，或點簡訊中的連結完成驗證。傳送「取消」可結束。",
        "Please enter the 6-digit code from the SMS, or open the link in it. Send CANCEL to stop.",
    ),
    "conv.cancelled": (
        "已取消。需要驗證時，請再傳送「驗證」。",
        "Cancelled. To verify later, send VERIFY.",
    ),
    "conv.timed_out": (
        "上一次的驗證對話已逾時結束。",
        "Your previous verification conversation timed out.",
    ),
    "conv.help": (
        "港區通行證手機驗證：傳送「驗證」開始；收到簡訊後回覆6位數字驗證碼。\n"
        "「狀態」查詢驗證狀態，「取消」結束對話，「EN」切換英文。",
        "Port pass phone verification: send VERIFY to start; reply with the 6-digit code "
        "from the SMS.\nSTATUS shows your status, CANCEL stops, 中文 switches to Chinese.",
    ),
    "conv.short_help": (
        "傳送「驗證」開始手機驗證，或回覆簡訊中的6位數字驗證碼。\n傳送「說明」取得更多說明。",
        "Send VERIFY to start phone verification, or reply with the 6-digit code from the "
        "SMS.\nSend HELP for more.",
    ),
    "conv.language_set": ("已切換為中文。", "Switched to English."),
    "conv.status_none": (
        "查無以此手機號碼登錄的通行證。",
        "No pass has this phone number on file.",
    ),
    "conv.status_line": ("{pass_no}：{status}", "{pass_no}: {status}"),
    "option.confirm": ("確定", "Confirm"),
    "option.cancel": ("取消", "Cancel"),
    # --- status ---------------------------------------------------------------------------------
    "status.verified": ("已驗證", "verified"),
    "status.unverified": ("未驗證", "unverified"),
    "status.pending": ("待驗證", "pending re-verification"),
    # --- the SMS itself (R9): one UCS-2 segment when the base URL is short ------------------
    "sms.verification": (
        "港區通行證末四碼{last4}驗證碼{code}，24小時內有效，或點{link}",
        "Port pass ending {last4}: code {code}, valid for 24 hours. Or confirm at {link}",
    ),
    "error.generic": (
        "發生錯誤，請稍後再試。",
        "Something went wrong. Please try again later.",
    ),
}


def lang_or_default(language: str | None) -> str:
    """Map a Telegram-style language code (``zh-hant``, ``en-US``) onto ours."""
    if not language:
        return ZH
    lowered = language.lower()
    if lowered.startswith("en"):
        return EN
    return ZH


def _format_value(value: object, language: str) -> object:
    if isinstance(value, datetime):
        local = value.astimezone(TAIPEI)
        return local.strftime("%Y/%m/%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    return value


def text(key: str, language: str = ZH, /, **params: object) -> str:
    """The message ``key`` in ``language``, with ``params`` filled in."""
    zh, en = _CATALOGUE[key]
    template = en if language == EN else zh
    return template.format(**{k: _format_value(v, language) for k, v in params.items()})


def render_error(error: PortPassError, language: str = ZH) -> str:
    return text(error.key, language, **error.params())


def keys() -> frozenset[str]:
    return frozenset(_CATALOGUE)
