"""Every text a user sees, in Traditional Chinese (default) and English, in one place.

The guide's own wording is kept where the guide gives one (R1, R3, R4, R6), so holders
who have read the port company's instructions recognise what the bot says. Channels
look texts up by key; no handler writes a sentence of its own.

Why one module: it is the whole catalogue on purpose, so each wording is found in
one place and a missing translation shows next to its key.
"""

from __future__ import annotations

from datetime import date, datetime

from core.clock import TAIPEI
from core.errors import PortPassError

ZH = "zh-TW"
EN = "en"
LANGUAGES = (ZH, EN)

_CATALOGUE: dict[str, tuple[str, str]] = {
    # --- input that does not parse: always say what is expected, with an example -------
    "input.pass_no": (
        "通行證號格式不正確，請輸入如 KHPS113-000043 的通行證號。",
        "That is not a pass number. Please type it like KHPS113-000043.",
    ),
    "input.id_is_pass_no": (
        "這是通行證號。請輸入身分證號（例：A123456789）。",
        "That is a pass number. Please type the ID number (for example A123456789).",
    ),
    "input.id_no": (
        "身分證號格式不正確，請輸入如 A123456789 的身分證號或居留證號。",
        "That is not an ID number. Please type it like A123456789 (ID or resident certificate).",
    ),
    "input.id_checksum": (
        "身分證號 {value} 的檢查碼不符，可能打錯了。請再確認一次；若號碼無誤，請回覆「確定」或 1"
        "（或再輸入一次同一號碼）。",
        "The check digit of ID number {value} does not match; it may be a typo. Please check "
        "it; if it is right, reply 1 (or type the same number again).",
    ),
    "input.id_all_digits": (
        "身分證號與居留證號都以英文字母開頭，請輸入如 A123456789 的號碼。",
        "An ID number starts with a letter. Please type it like A123456789 (ID or resident "
        "certificate).",
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
    "request.already_elsewhere": (
        "此通行證的驗證碼已經送到登記的手機。驗證碼只能在原本申請的地方輸入（或直接回覆該簡訊），"
        "也可以點擊簡訊中的連結完成驗證；在這裡輸入不會被受理。如需新的驗證碼，請於 {retry_at} 後再申請。",
        "A verification code for this pass was already sent to the phone on file. It can be "
        "entered only where it was requested (or as a reply to that SMS), or you can open the "
        "link in the SMS to verify; it cannot be entered here. A new code can be requested "
        "after {retry_at}.",
    ),
    "request.pass_not_valid": (
        "此通行證不在有效期間內（{valid_from} 至 {valid_to}），無法驗證手機。",
        "This pass is not within its validity period ({valid_from} to {valid_to}), so its "
        "phone cannot be verified.",
    ),
    "request.opted_out": (
        "此手機號碼已退訂本服務的簡訊，無法發送驗證碼。請用該手機傳送 START 到本服務的簡訊號碼，"
        "恢復接收後再重新取得驗證碼。",
        "This phone has opted out of our SMS, so no code can be sent to it. To opt back in, "
        "text START from that phone to our SMS number, then ask for a code again.",
    ),
    # --- operators ----------------------------------------------------------------------------
    "operator.no_phone": (
        "預設手機號碼空白，請先至「基本資料維護」/「人員資料」新增一筆該人員資料。",
        "The default phone is blank. Please first add this person's record (基本資料維護 / 人員資料).",
    ),
    "operator.new_phone_not_owned": (
        "{pass_no} 不是貴公司的所屬通行證，不能改用新的手機號碼，只能發送到預設手機號碼："
        "/send {pass_no}。若需修改手機號碼，請洽該通行證的業者申請人。",
        "{pass_no} is not one of your company's passes: its code cannot go to a new number, "
        "only to the phone on file: /send {pass_no}. To change its phone, ask the company "
        "that applied for the pass.",
    ),
    "operator.pass_not_found": (
        "查無通行證 {pass_no}。",
        "No pass {pass_no} was found.",
    ),
    "operator.link_invalid": (
        "連結碼無效、已使用或已過期，請向系統管理員索取新的連結碼。",
        "This link code is not valid, was already used, or has expired. Please ask your "
        "administrator for a new one.",
    ),
    "operator.linked": (
        "已連結業者申請人帳號：{name}（{company}）。",
        "Linked to the operator account {name} ({company}).",
    ),
    "operator.unlinked": (
        "已解除此 Telegram 帳號與業者申請人帳號的連結。",
        "This Telegram account is no longer linked to an operator account.",
    ),
    "operator.not_linked": (
        "此 Telegram 帳號尚未連結業者申請人帳號。",
        "This Telegram account is not linked to an operator account.",
    ),
    "operator.not_found": (
        "查無業者申請人帳號 {operator_id}。",
        "No operator account {operator_id} was found.",
    ),
    "operator.revoked": (
        "業者申請人帳號 {operator_id} 已停用。",
        "The operator account {operator_id} has been revoked.",
    ),
    "operator.invalid_details": (
        "業者申請人的姓名與公司名稱不可空白。",
        "An operator needs a name and a company.",
    ),
    # --- the operator's table and its CSV export (R10 columns, then validity and company) ---
    "operator.col.pass_no": ("通行證號", "Pass number"),
    "operator.col.id_no": ("身分證號", "ID number"),
    "operator.col.name": ("姓名", "Name"),
    "operator.col.phone": ("手機號碼", "Phone"),
    "operator.col.verified_phone": ("已驗證手機號碼", "Verified phone"),
    "operator.col.status": ("是否驗證", "Status"),
    "operator.col.valid_from": ("期限起日", "Valid from"),
    "operator.col.valid_to": ("期限迄日", "Valid to"),
    "operator.col.company": ("公司", "Company"),
    # --- operators on Telegram (bot/telegram_operator*.py) --------------------------------------
    "operator.help": (
        "業者申請人指令：\n"
        "/passes [已驗證|未驗證|待驗證]：所屬通行證列表\n"
        "/pass 通行證號：查詢一張通行證（非所屬通行證請輸入完整證號）\n"
        "/send 通行證號 [新手機號碼]：發送驗證碼（例：/send KHPS113-000043 0912345678）\n"
        "/stats：驗證統計\n"
        "/export：匯出驗證狀態表（CSV）\n"
        "/notices [無法通知]：最近的停用／異常／恢復通知\n"
        "/unlink：解除連結",
        "Operator commands:\n"
        "/passes [verified|unverified|pending]: your passes\n"
        "/pass PASS_NO: one pass (type the exact number for another company's pass)\n"
        "/send PASS_NO [NEW_PHONE]: send a code (for example /send KHPS113-000043 0912345678)\n"
        "/stats: verification counts\n"
        "/export: the status table as CSV\n"
        "/notices [unreachable]: recent suspension, abnormal-record and reinstatement notices\n"
        "/unlink: unlink this Telegram account",
    ),
    "operator.link_usage": (
        "請在 /link 後面輸入系統管理員提供的連結碼，例：/link K7PQ2MX9RT",
        "Please type the link code your administrator gave you after /link, for example "
        "/link K7PQ2MX9RT",
    ),
    "operator.passes_usage": (
        "請輸入 /passes，或加上狀態：/passes 已驗證、/passes 未驗證、/passes 待驗證。",
        "Please send /passes, or add a status: /passes verified, /passes unverified, "
        "/passes pending.",
    ),
    "operator.pass_usage": (
        "請在 /pass 後面輸入通行證號，例：/pass KHPS113-000043",
        "Please type a pass number after /pass, for example /pass KHPS113-000043",
    ),
    "operator.send_usage": (
        "請在 /send 後面輸入通行證號，例：/send KHPS113-000043；"
        "要改用新的手機號碼：/send KHPS113-000043 0912345678",
        "Please type a pass number after /send, for example /send KHPS113-000043; to use a "
        "new phone: /send KHPS113-000043 0912345678",
    ),
    "operator.scope_all": ("全部公司", "all companies"),
    "operator.list_title": ("{scope}所屬通行證：共 {total} 筆", "Passes of {scope}: {total}"),
    "operator.list_title_status": (
        "{scope}所屬通行證（{status}）：共 {total} 筆",
        "Passes of {scope} ({status}): {total}",
    ),
    "operator.list_row": (
        "{pass_no}　{status}\n{id_no}　{name}\n手機 {phone}　已驗證手機 {verified_phone}",
        "{pass_no}  {status}\n{id_no}  {name}\nPhone {phone}  verified {verified_phone}",
    ),
    "operator.status_opted_out": ("{status}（已退訂）", "{status} (opted out)"),
    "operator.list_empty": ("沒有符合的通行證。", "No passes match."),
    "operator.page": ("第 {page}/{pages} 頁", "Page {page} of {pages}"),
    "operator.field": ("{label}：{value}", "{label}: {value}"),
    "operator.not_owned_note": (
        "非所屬通行證：身分證號、姓名與手機號碼已遮蔽。",
        "Another company's pass: ID number, name and phones are masked.",
    ),
    "operator.send_hint": (
        "傳送 /send {pass_no} 以預設手機號碼發送驗證碼，或 /send {pass_no} 0912345678 改用新號碼。",
        "Send /send {pass_no} to text a code to the phone on file, or /send {pass_no} "
        "0912345678 to use a new number.",
    ),
    "operator.stats_title": ("{scope}手機驗證統計", "Phone verification: {scope}"),
    "operator.total": ("合計", "Total"),
    "operator.open_codes": ("等待輸入的驗證碼", "Codes waiting to be entered"),
    "operator.export_caption": (
        "{scope}手機驗證狀態表，共 {rows} 筆。",
        "Phone verification status of {scope}: {rows} passes.",
    ),
    "operator.sent_detail": (
        "通行證 {pass_no}，手機 {phone}，驗證碼有效至 {expires_at}。",
        "Pass {pass_no}, phone {phone}; the code is valid until {expires_at}.",
    ),
    "operator.send_cancelled": ("已取消，未發送驗證碼。", "Cancelled; no code was sent."),
    "operator.phone_changed": (
        "{pass_no} 的預設手機號碼已經變更，請重新傳送 /send {pass_no}。",
        "The phone on file for {pass_no} has changed. Please send /send {pass_no} again.",
    ),
    # --- campaigns (the admin CLI, issue 9) ---------------------------------------------------
    "campaign.bad_option": (
        "{option} 的值「{got}」不正確。",
        "{option}: {got!r} is not a valid value.",
    ),
    "campaign.bad_window": (
        "{option} 應為台北時間的起訖時刻，例如 09:00-21:00（跨夜可寫 21:00-06:00，全天為 00:00-24:00）；收到「{got}」。",
        "{option} must be a time range in Taipei time, e.g. 09:00-21:00 (overnight "
        "21:00-06:00, all day 00:00-24:00); got {got!r}.",
    ),
    "campaign.bad_rate": (
        "{option} 應為每秒簡訊數，大於 0、最多 10000，例如 10；收到「{got}」。",
        "{option} must be SMS per second, above 0 and at most 10000, e.g. 10; got {got!r}.",
    ),
    "campaign.bad_duration": (
        "{option} 應為 1 小時到 90 天之間的時間長度，例如 3d、36h 或 1d12h；收到「{got}」。",
        "{option} must be a duration between 1 hour and 90 days, e.g. 3d, 36h or 1d12h; "
        "got {got!r}.",
    ),
    "campaign.bad_reminders": (
        "{option} 應為 0 到 5 之間的整數；收到「{got}」。",
        "{option} must be a whole number from 0 to 5; got {got!r}.",
    ),
    "campaign.reminders_need_delay": (
        "要發送提醒，請同時指定 --remind-after，例如 --remind-after 3d --reminders {got}。",
        "Reminders need a delay: add --remind-after, e.g. --remind-after 3d --reminders {got}.",
    ),
    "campaign.bad_states": (
        "{option} 只能是 unverified（未驗證）、pending（待驗證）或兩者以逗號分隔；收到「{got}」。",
        "{option} must be unverified, pending, or both separated by a comma; got {got!r}.",
    ),
    "campaign.bad_prefix": (
        "{option} 應為通行證號的開頭，例如 KHPS 或 KHPS113；收到「{got}」。",
        "{option} must be the start of a pass number, e.g. KHPS or KHPS113; got {got!r}.",
    ),
    "campaign.bad_name": (
        "{option} 應為 1 到 100 個字的名稱，例如「2026 秋季手機驗證」；收到「{got}」。",
        '{option} must be a name of 1 to 100 characters, e.g. "2026 autumn"; got {got!r}.',
    ),
    "campaign.bad_id": (
        "活動編號應為正整數，例如 3；收到「{got}」。請用 portpass campaign list 查看。",
        "A campaign id is a whole number such as 3; got {got!r}. See: portpass campaign list",
    ),
    "campaign.not_found": (
        "找不到活動 {id}。請用 portpass campaign list 查看活動編號。",
        "There is no campaign {id}. See the campaign ids with: portpass campaign list",
    ),
    "campaign.wrong_state": (
        "活動 {id} 目前為 {state}，無法 {action}。",
        "Campaign {id} is {state}: it cannot {action}.",
    ),
    "campaign.reason.no_phone": ("無手機號碼（R6）", "no phone on file (R6)"),
    "campaign.reason.opted_out": ("已退訂簡訊", "opted out of SMS"),
    "campaign.reason.live_request": (
        "已有有效的驗證碼（R2）",
        "a live request already exists (R2)",
    ),
    "campaign.reason.not_tw_mobile": ("非台灣手機號碼", "phone not a Taiwanese mobile"),
    "campaign.reason.verified": ("已於期間內完成驗證", "verified in the meantime"),
    "campaign.reason.not_valid": ("通行證已不在有效期間", "pass no longer valid"),
    "campaign.reason.pass_gone": ("通行證已不在名冊", "pass no longer in the registry"),
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
    "check.stale": (
        "驗證碼送出後，此通行證的持證人或登記的手機號碼已經變更，這個驗證碼已失效。"
        "請以目前的資料重新取得驗證碼；若資料有誤，請洽業者申請人。",
        "The pass's holder or the phone on file changed after this code was sent, so the "
        "code no longer works. Please ask for a new code with the current data; if the data "
        "is wrong, ask your company's pass administrator.",
    ),
    "check.already_verified": (
        "此驗證碼已使用過，手機已完成驗證。",
        "This code was already used; the phone is verified.",
    ),
    "link.unknown": (
        "此驗證連結無效或已過期，請重新取得驗證碼。",
        "This verification link is not valid or has expired. Please ask for a new code.",
    ),
    # --- the link page (GET shows, POST confirms) -----------------------------------------------
    "link.title": ("港區通行證手機驗證", "Port pass phone verification"),
    "link.intro": (
        "請確認下列通行證與手機號碼是您的，再按「確認驗證」。",
        "Please check that this pass and mobile number are yours, then tap Confirm.",
    ),
    "link.pass_label": ("通行證號", "Pass number"),
    "link.phone_label": ("手機號碼", "Mobile number"),
    "link.expires_label": ("連結有效至", "Link valid until"),
    "link.expires_at": ("{expires_at}（台北時間）", "{expires_at} (Taipei time)"),
    "link.confirm": ("確認驗證", "Confirm"),
    "link.not_you": (
        "若這不是您的通行證或手機號碼，請勿確認，直接關閉此頁即可。",
        "If this is not your pass or number, do not confirm; just close this page.",
    ),
    "link.verified_title": ("手機驗證完成", "Phone verified"),
    "link.already_title": ("已完成驗證", "Already verified"),
    "link.purpose": (
        "驗證後，這支手機會收到通行證停用及進出紀錄異常的通知簡訊。",
        "Once verified, this phone gets an SMS when the pass is suspended or has abnormal "
        "entry/exit records.",
    ),
    "link.kept": (
        "驗證紀錄在驗證碼到期後保存 {days} 天，之後刪除。",
        "The verification record is kept for {days} days after the code expires, then deleted.",
    ),
    "link.done_next": (
        "您可以關閉此頁。之後若通行證停用，港務公司會以簡訊通知這支手機。",
        "You can close this page. If the pass is ever suspended, the port company will text "
        "this phone.",
    ),
    "link.already_next": (
        "不需要再操作，您可以關閉此頁。",
        "Nothing more is needed; you can close this page.",
    ),
    "link.problem_title": ("無法完成驗證", "Cannot verify"),
    "link.expired": (
        "此驗證連結已超過24小時有效時限，已經失效。",
        "This verification link has expired (links are valid for 24 hours).",
    ),
    "link.used": (
        "此驗證連結已經使用過，手機已完成驗證，不需要再操作。",
        "This link has already been used: the phone is verified and nothing more is needed.",
    ),
    "link.how_to_renew": (
        "如需新的驗證碼，請以登錄的手機回覆「驗證」至驗證簡訊的號碼，或請業者申請人代為發送。",
        "To get a new code, reply VERIFY to the verification SMS from the phone on file, or "
        "ask your company's pass administrator to send one.",
    ),
    "link.forbidden": (
        "無法確認這次操作來自驗證頁面。請重新開啟簡訊中的連結，再按「確認驗證」。",
        "This confirmation did not come from the verification page. Please open the link in "
        "the SMS again and tap Confirm there.",
    ),
    "link.busy_title": ("請稍候", "Please wait"),
    "link.rate_limited": (
        "操作太頻繁，請於 {seconds} 秒後再試。",
        "Too many requests. Please try again in {seconds} seconds.",
    ),
    "link.other_language": ("English", "中文"),
    # --- demo pages (serve --demo only) -------------------------------------------------------
    "dev.inbox_title": ("簡訊收件匣（示範）", "Dev inbox (demo)"),
    "dev.inbox_note": (
        "示範模式：主控台寄送器「寄出」的簡訊，最新的在上面。本頁每 5 秒重新整理。",
        "Demo only: the SMS the console sender would have sent, newest first. This page "
        "reloads every 5 seconds.",
    ),
    "dev.inbox_empty": (
        "還沒有簡訊。從 Telegram、portpass chat 或業者申請開始一次驗證，簡訊就會出現在這裡。",
        "No SMS yet. Start a verification (Telegram, portpass chat, or an operator request) "
        "and it will show up here.",
    ),
    "dev.to": ("收件人", "to"),
    "dev.taipei": ("台北時間", "Taipei"),
    "dev.home_title": ("港區通行證手機驗證（示範）", "Port pass phone verification (demo)"),
    "dev.home_intro": (
        "這是 PortPass Verify 的示範伺服器：通行證持有人以簡訊、Telegram 或簡訊中的連結，證明登錄的手機號碼是自己的。示範模式不會真的寄出簡訊，測試用的持有人資料已經載入。",
        "This is a PortPass Verify demo server: port pass holders prove, by SMS, Telegram or "
        "the link in the SMS, that the mobile number on file is theirs. In demo mode no SMS "
        "is really sent, and the guide's test holders are loaded.",
    ),
    "dev.home_try": ("試試看", "Try it"),
    "dev.home_chat": (
        "在另一個終端機以持有人的手機傳簡訊給伺服器：",
        "In another terminal, text the server as a holder's phone:",
    ),
    "dev.home_inbox": (
        "看看寄出的簡訊（含驗證碼與連結）",
        "See the SMS sent (with codes and links)",
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
    "conv.confirm_unclear": (
        "沒有看懂這個回覆。要取得{pass_no}人員通行證的手機驗證碼嗎？",
        "Sorry, that is not an answer. Get a verification code for pass {pass_no}?",
    ),
    "conv.confirm_hint": ("回覆 1 確認，2 取消", "Reply 1 to confirm, 2 to cancel"),
    "conv.ask_code": ("請輸入6位數字驗證碼", "Please enter the 6-digit verification code."),
    "conv.ask_code_hint": (
        "請輸入簡訊中的6位數字驗證碼，或點簡訊中的連結完成驗證。傳送「取消」或 2 可結束。",
        "Please enter the 6-digit code from the SMS, or open the link in it. Send 2 to stop.",
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
        "from the SMS.\nSTATUS shows your status, 2 stops, 中文 switches to Chinese.",
    ),
    "conv.short_help": (
        "傳送「驗證」開始手機驗證，或回覆簡訊中的6位數字驗證碼。\n傳送「說明」取得更多說明。",
        "Send VERIFY to start phone verification, or reply with the 6-digit code from the "
        "SMS.\nSend ? for more.",
    ),
    "conv.language_set": ("已切換為中文。", "Switched to English."),
    "conv.status_none": (
        "查無以此手機號碼登錄的通行證。",
        "No pass has this phone number on file.",
    ),
    "conv.status_none_chat": (
        "這個對話還沒有申請過通行證的驗證碼。傳送 /verify 開始手機驗證。",
        "No pass has been verified from this chat yet. Send /verify to start.",
    ),
    "conv.status_line": ("{pass_no}：{status}", "{pass_no}: {status}"),
    "conv.status_page": (
        "第 {page}/{pages} 頁。傳送「狀態 {next}」看下一頁。",
        "Page {page} of {pages}. Send STATUS {next} for the next page.",
    ),
    "conv.status_last_page": (
        "第 {page}/{pages} 頁（最後一頁）。",
        "Page {page} of {pages} (the last).",
    ),
    # Twilio's opt-in words (START, UNSTOP, YES) lift an opt-out; said in both languages.
    "sms.opted_in": ("已恢復接收本服務的簡訊。", "You will receive our SMS again."),
    "conv.stale_choice": (
        "這個按鈕屬於較早的問題，請回答下面這個問題。",
        "That button belongs to an earlier question. Please answer this one.",
    ),
    "option.confirm": ("確定", "Confirm"),
    "option.cancel": ("取消", "Cancel"),
    # --- notices: gate events told to the verified phone, listed to operators (issue 9) ----------
    # The SMS must stay one UCS-2 segment (70) with the configured contact line
    # (notices.contact); bot/config.py checks every kind at start-up.
    "notice.sms.suspended_inactive": (
        "港區通行證末四碼{last4}因逾六個月未進出，已於{date}停用。請洽{contact}",
        "Port pass ending {last4} was suspended on {date}: no gate passage for six months. "
        "Contact {contact}",
    ),
    "notice.sms.abnormal_record": (
        "港區通行證末四碼{last4}於{date}有一筆異常進出紀錄，一個月內兩筆將停用。請洽{contact}",
        "Port pass ending {last4}: one abnormal entry/exit record on {date}; two in a month "
        "suspend the pass. Contact {contact}",
    ),
    "notice.sms.suspended_abnormal": (
        "港區通行證末四碼{last4}因一個月內兩筆異常進出紀錄，已於{date}停用。請洽{contact}",
        "Port pass ending {last4} was suspended on {date}: two abnormal entry/exit records in "
        "a month. Contact {contact}",
    ),
    "notice.sms.reinstated": (
        "港區通行證末四碼{last4}已於{date}恢復使用。如有疑問請洽{contact}",
        "Port pass ending {last4} was reinstated on {date}. Questions: contact {contact}",
    ),
    "notice.kind.suspended_inactive": (
        "逾六個月未進出，已停用",
        "suspended: no gate passage for six months",
    ),
    "notice.kind.abnormal_record": (
        "一筆異常進出紀錄（一個月內兩筆將停用）",
        "one abnormal entry/exit record (two in a month suspend the pass)",
    ),
    "notice.kind.suspended_abnormal": (
        "一個月內兩筆異常進出紀錄，已停用",
        "suspended: two abnormal entry/exit records in a month",
    ),
    "notice.kind.reinstated": ("已恢復使用", "reinstated"),
    "notice.telegram": (
        "港區通行證 {pass_no} 通知：{what}（{date}）。\n如有疑問請洽{contact}。",
        "Port pass {pass_no}: {what} ({date}).\nQuestions: contact {contact}.",
    ),
    "notice.reason.unverified": ("手機未驗證", "phone not verified"),
    "notice.reason.pending": ("手機待重新驗證", "phone pending re-verification"),
    "notice.reason.opted_out": ("已退訂簡訊", "opted out of SMS"),
    "notice.state.queued": ("簡訊待發送", "SMS queued"),
    "notice.state.sent": ("簡訊已發送", "SMS sent"),
    "notice.state.delivered": ("簡訊已送達", "SMS delivered"),
    "notice.state.failed": ("簡訊發送失敗", "SMS failed"),
    "notice.state.unreachable": ("無法通知：{reason}", "not reachable: {reason}"),
    "notice.state.telegram": ("已以 Telegram 通知", "told on Telegram"),
    "notice.line": ("{date} {pass_no} {what}\n　{state}", "{date} {pass_no} {what}\n  {state}"),
    "notice.line_company": (
        "{date} {pass_no}（{company}）{what}\n　{state}",
        "{date} {pass_no} ({company}) {what}\n  {state}",
    ),
    "notice.list_title": (
        "{scope}最近 {days} 天的通知：{count} 則",
        "Notices of {scope} in the last {days} days: {count}",
    ),
    "notice.list_title_unreachable": (
        "{scope}最近 {days} 天無法通知的通知：{count} 則",
        "Notices of {scope} that reached no one in the last {days} days: {count}",
    ),
    "notice.list_empty": ("沒有符合的通知。", "No notices match."),
    "notice.list_more": (
        "……僅列出最近 {shown} 則；完整清單請洽系統管理員（portpass notices list）。",
        "… only the latest {shown} are shown; an administrator can list all "
        "(portpass notices list).",
    ),
    "notice.list_usage": (
        "請輸入 /notices，或 /notices 無法通知 只列出無法通知的通知。",
        "Please send /notices, or /notices unreachable for the ones that reached no one.",
    ),
    "notice.digest_title": (
        "港區通行證通知日報 {day}（{scope}）",
        "Pass notices, daily digest {day} ({scope})",
    ),
    "notice.digest_counts": (
        "{since} 至 {until} 共 {total} 則：已發簡訊 {texted} 則，無法以簡訊通知 {unreachable} 則。",
        "{since} to {until}: {total} notices, {texted} texted, {unreachable} not reachable by SMS.",
    ),
    "notice.digest_unreachable": (
        "無法以簡訊通知（請協助持證人完成手機驗證）：",
        "Not reachable by SMS (please help these holders verify their phone):",
    ),
    "notice.digest_texted": ("已發簡訊：", "Texted:"),
    "notice.digest_more": (
        "……另有 {count} 則，請傳送 /notices 查看。",
        "… and {count} more: send /notices to see them.",
    ),
    "notice.col.received_at": ("接收時間", "Received at"),
    "notice.col.occurred_on": ("發生日期", "Occurred on"),
    "notice.col.pass_no": ("通行證號", "Pass number"),
    "notice.col.company": ("公司", "Company"),
    "notice.col.kind": ("通知種類", "Kind"),
    "notice.col.state": ("通知狀態", "Delivery"),
    "notice.col.reason": ("無法通知原因", "Reason"),
    "notice.col.telegram_chats": ("Telegram 對話數", "Telegram chats"),
    "notice.col.event_id": ("事件編號", "Event ID"),
    "notice.col.detail": ("說明", "Detail"),
    "notice.invalid_batch": (
        "{count} 筆通知資料有誤，所有通知都沒有儲存。請修正後重新送出。",
        "{count} events are invalid, so nothing was stored. Please fix them and send again.",
    ),
    "notice.too_many": (
        "一次最多 {limit} 筆通知，收到 {count} 筆。請分批送出。",
        "At most {limit} events at a time; got {count}. Please send them in batches.",
    ),
    "notice.error.not_object": (
        "每筆通知必須是含 event_id、pass_no、kind、occurred_at 欄位的 JSON 物件。",
        "Each event must be a JSON object with event_id, pass_no, kind and occurred_at.",
    ),
    "notice.error.missing": ("缺少欄位 {field}。", "{field} is missing."),
    "notice.error.columns": (
        "這一列有 {count} 欄，標題列有 {expected} 欄。",
        "This row has {count} cells; the header has {expected}.",
    ),
    "notice.error.unknown_field": (
        "不認得的欄位 {field}；可用欄位：event_id、pass_no、kind、occurred_at、detail。",
        "Unknown field {field}; the fields are event_id, pass_no, kind, occurred_at, detail.",
    ),
    "notice.error.event_id": (
        "event_id 必須是 1 至 128 個可見字元（收到 {value}）。",
        "event_id must be 1 to 128 printable characters (got {value}).",
    ),
    "notice.error.pass_no": (
        "pass_no 格式不正確：{value}；請用如 KHPS113-000043 的通行證號。",
        "pass_no {value} is not a pass number; use one like KHPS113-000043.",
    ),
    "notice.error.unknown_pass": (
        "查無通行證 {value}。",
        "There is no pass {value} in the registry.",
    ),
    "notice.error.kind": (
        "kind 必須是以下之一：{kinds}（收到 {value}）。",
        "kind must be one of: {kinds} (got {value}).",
    ),
    "notice.error.occurred_at": (
        "occurred_at 必須是日期時間，例：2026-11-26T08:30:00+08:00 或 2026/11/26（收到 {value}）。",
        "occurred_at must be a date and time such as 2026-11-26T08:30:00+08:00 or 2026/11/26 "
        "(got {value}).",
    ),
    "notice.error.out_of_range": (
        "occurred_at {value} 不合理（在未來，或早於 2000 年），請確認日期。",
        "occurred_at {value} is not plausible (in the future, or before 2000); please check it.",
    ),
    "notice.error.detail": (
        "detail 必須是最多 {limit} 個字元的文字。",
        "detail must be text of at most {limit} characters.",
    ),
    "notice.api.unauthorized": (
        "需要有效的存取權杖：請在 Authorization 標頭送出 Bearer 權杖。",
        "A valid access token is required: send it as Authorization: Bearer TOKEN.",
    ),
    "notice.api.too_large": (
        "請求內容超過 {limit} 位元組，請分批送出。",
        "The request body is over {limit} bytes; please send smaller batches.",
    ),
    "notice.api.malformed": (
        "請求內容不是有效的 UTF-8 JSON（{problem}）。",
        "The request body is not valid UTF-8 JSON ({problem}).",
    ),
    "notice.api.shape": (
        "請送出一筆通知物件、通知物件的 JSON 陣列，或含 events 陣列的物件。",
        "Send one event object, a JSON array of event objects, or an object with an events array.",
    ),
    # --- status ---------------------------------------------------------------------------------
    "status.verified": ("已驗證", "verified"),
    "status.unverified": ("未驗證", "unverified"),
    "status.pending": ("待驗證", "pending re-verification"),
    # --- the SMS itself (R9): one UCS-2 segment when the base URL is short ------------------
    "sms.verification": (
        "通行證末四碼{last4}驗證碼{code}，24小時內有效，或點{link}",
        "Port pass ending {last4}: code {code}, valid for 24 hours. Or confirm at {link}",
    ),
    # --- what became of a verification SMS (issue 8, items 8 and 9) -------------------------
    "delivery.undelivered": ("簡訊未送達", "SMS undelivered"),
    "delivery.undelivered_code": ("簡訊未送達 ({code})", "SMS undelivered ({code})"),
    "delivery.failed": ("簡訊無法發送", "SMS could not be sent"),
    "delivery.failed_code": ("簡訊無法發送 ({code})", "SMS could not be sent ({code})"),
    "delivery.label": ("簡訊狀態", "Last SMS"),
    "delivery.notice": (
        "通行證 {pass_no} 的驗證碼簡訊沒有送到 {phone}（{problem}）。這次的申請已取消，"
        "您可以立即重新申請驗證碼。",
        "The verification SMS for pass {pass_no} did not reach {phone} ({problem}). That "
        "request is cancelled; you may ask for a new code now.",
    ),
    "error.generic": (
        "發生錯誤，請稍後再試。",
        "Something went wrong. Please try again later.",
    ),
    # --- the Telegram channel -------------------------------------------------------------------
    "telegram.private_only": (
        "為保護您的個人資料，請在與本機器人的私人對話中進行手機驗證。",
        "To keep your personal data private, please verify your phone in a private chat "
        "with this bot.",
    ),
    "telegram.button_expired": (
        "此按鈕已失效，請重新開始。",
        "This button no longer works. Please start again.",
    ),
    # --- Telegram: the greeting, the command menus, the operators' send button (issue 10) ------
    "telegram.welcome": (
        "您好，這裡是港區人員通行證手機驗證。驗證通行證登錄的手機號碼後，通行證停用或進出紀錄"
        "異常時，港務公司會以簡訊通知這支手機。\n"
        "接下來會請您輸入：通行證號、身分證號、手機號碼（可按按鈕分享）。\n"
        "隱私：資料只用來核對港務公司的通行證資料；驗證紀錄在驗證碼到期後保存 {days} 天，"
        "之後刪除；紀錄檔中的身分證號與手機號碼一律遮蔽。",
        "Hello, this is port pass phone verification. Once the mobile number on file for your "
        "pass is verified, the port company texts that phone when the pass is suspended or "
        "has abnormal entry/exit records.\n"
        "You will be asked for: your pass number, your ID number, your mobile number (or "
        "share it with a button).\n"
        "Privacy: your data is only checked against the port company's pass records; the "
        "verification record is kept for {days} days after the code expires, then deleted; "
        "ID and phone numbers are masked in our logs.",
    ),
    "telegram.commands_help": (
        "指令：\n"
        "/start 或 /verify：開始手機驗證\n"
        "/status：查詢驗證狀態\n"
        "/cancel：取消目前的驗證\n"
        "/lang：切換中文／English\n"
        "/help：說明",
        "Commands:\n"
        "/start or /verify: start phone verification\n"
        "/status: your verification status\n"
        "/cancel: stop the current verification\n"
        "/lang: switch English/中文\n"
        "/help: this help",
    ),
    "command.start": ("開始手機驗證", "Start phone verification"),
    "command.verify": ("驗證通行證的手機號碼", "Verify the phone of a pass"),
    "command.status": ("查詢驗證狀態", "Your verification status"),
    "command.cancel": ("取消目前的驗證", "Stop the current verification"),
    "command.lang": ("切換中文／English", "Switch English/中文"),
    "command.help": ("說明與指令", "Help and commands"),
    "command.passes": ("所屬通行證列表", "Your company's passes"),
    "command.pass": ("查詢一張通行證", "Look up one pass"),
    "command.send": ("發送驗證碼", "Send a verification code"),
    "command.stats": ("驗證統計", "Verification counts"),
    "command.export": ("匯出驗證狀態表（CSV）", "Export the status table (CSV)"),
    "command.notices": ("最近的通知", "Recent notices"),
    "command.unlink": ("解除連結", "Unlink this Telegram account"),
    "operator.send_button": ("發送驗證碼", "Send code"),
    "operator.send_button_row": ("發送驗證碼 {pass_no}", "Send code {pass_no}"),
    "operator.send_button_hint": (
        "按「發送驗證碼」以預設手機號碼發送驗證碼；要改用新號碼，請傳送 /send {pass_no} 0912345678。",
        "Tap Send code to text a code to the phone on file; to use a new number, send "
        "/send {pass_no} 0912345678.",
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
