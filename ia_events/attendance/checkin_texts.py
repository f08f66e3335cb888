"""Texts of the participant check-in page in seven languages, and the privacy notice.

German is the source; English, Arabic, Turkish, Ukrainian, Russian and Farsi
follow it sentence by sentence in plain language. ``pick_language`` chooses
from ``?lang=`` or the phone's Accept-Language. The data-protection notice
cites the carrier's law (Art. 13 DSGVO, § 15 KDG or § 17 DSG-EKD); its legal
basis sentence can be overridden per law in the ``settings`` table
(``privacy.basis.<LAW>``) without a release.

Limits: staff-facing German messages live in ``messages``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ia_events.core.models import Setting

LANGS = {
    "de": "Deutsch",
    "en": "English",
    "ar": "العربية",
    "tr": "Türkçe",
    "uk": "Українська",
    "ru": "Русский",
    "fa": "فارسی",
}
RTL = frozenset({"ar", "fa"})

NOTICE_REF = {"DSGVO": "Art. 13 DSGVO", "KDG": "§ 15 KDG", "DSG-EKD": "§ 17 DSG-EKD"}
LEGAL_BASIS = {
    "DSGVO": "Art. 6 Abs. 1 lit. c und e DSGVO (Nachweispflicht gegenüber dem Fördermittelgeber); "
    "Foto-Einwilligung: Art. 6 Abs. 1 lit. a DSGVO",
    "KDG": "§ 6 Abs. 1 lit. c und f KDG (Nachweispflicht gegenüber dem Fördermittelgeber); "
    "Foto-Einwilligung: § 6 Abs. 1 lit. b KDG",
    "DSG-EKD": "§ 6 Nr. 1 und 4 DSG-EKD (Nachweispflicht gegenüber dem Fördermittelgeber); "
    "Foto-Einwilligung: § 6 Nr. 2 DSG-EKD",
}


def legal_basis(session: Session, law: str) -> str:
    """The legal basis sentence for ``law`` (installation setting overrides the default)."""
    row = session.get(Setting, f"privacy.basis.{law}")
    return row.value if row else LEGAL_BASIS.get(law, LEGAL_BASIS["DSGVO"])


def notice_ref(law: str) -> str:
    return NOTICE_REF.get(law, NOTICE_REF["DSGVO"])


def pick_language(query: str | None, accept_language: str | None) -> str:
    if query in LANGS:
        return query
    best, best_q = "de", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        if code in LANGS and q > best_q:
            best, best_q = code, q
    return best


T: dict[str, dict[str, str]] = {
    "de": {
        "title": "Anmeldung",
        "when": "Datum",
        "time": "Uhrzeit",
        "place": "Ort",
        "name": "Ihr Name",
        "name_hint": "Vor- und Nachname, wie auf der Teilnehmerliste",
        "submit_named": "Einchecken",
        "submit_anon": "Ich bin da",
        "age": "Alter (freiwillig)",
        "age_none": "keine Angabe",
        "u18": "unter 18",
        "photo": "Ich bin einverstanden, dass Fotos, auf denen ich zu sehen bin, für Berichte "
        "und Öffentlichkeitsarbeit genutzt werden. Freiwillig – Sie nehmen auch ohne "
        "Zustimmung teil. Für Kinder entscheiden die Eltern.",
        "privacy_short": "Datenschutz: {agency} speichert Ihre Anmeldung als Nachweis für die "
        "Förderung. Namen werden verschlüsselt gespeichert, keine Adresse.",
        "privacy_more": "Mehr zum Datenschutz ({ref})",
        "p_controller": "Verantwortlich: {carrier}, {agency}. Kontakt: {contact}",
        "p_purpose": "Zweck: Nachweis der Teilnahme gegenüber dem Fördermittelgeber (Land NRW) "
        "und Zählung der erreichten Personen.",
        "p_data": "Daten: Name (nur bei Listen mit Namen), Zeitpunkt; freiwillig Altersgruppe "
        "und Foto-Einwilligung. Keine Adresse, keine Angaben zu Herkunft oder Religion.",
        "p_basis": "Rechtsgrundlage: {basis}.",
        "p_keep": "Speicherdauer: bis zum Ende der Aufbewahrungsfrist der Förderung (bis zu "
        "10 Jahre nach dem Förderjahr), danach gelöscht oder anonymisiert.",
        "p_rights": "Ihre Rechte: Auskunft, Berichtigung, Löschung, Einschränkung, Widerspruch, "
        "Widerruf der Foto-Einwilligung und Beschwerde bei der Datenschutzaufsicht.",
        "ok": "Sie sind eingecheckt. Herzlich willkommen!",
        "already_checked_in": "Sie sind schon eingecheckt.",
        "other_person": "Ich bin eine andere Person",
        "not_open": "Die Anmeldung ist noch nicht geöffnet.",
        "opens": "Sie öffnet um {time} Uhr.",
        "closed": "Die Anmeldung ist geschlossen.",
        "cancelled": "Dieser Termin fällt aus.",
        "invalid": "Dieser Link ist ungültig. Bitte scannen Sie den QR-Code vor Ort neu.",
        "name_missing": "Bitte geben Sie Ihren Namen ein.",
        "slow_down": "Zu viele Versuche. Bitte warten Sie eine Minute.",
        "try_again": "Das hat gerade nicht geklappt. Bitte versuchen Sie es noch einmal – "
        "doppelt gezählt wird dabei nichts.",
        "retry": "Noch einmal versuchen",
        "again": "Zurück",
    },
    "en": {
        "title": "Check-in",
        "when": "Date",
        "time": "Time",
        "place": "Place",
        "name": "Your name",
        "name_hint": "First and last name, as on the participant list",
        "submit_named": "Check in",
        "submit_anon": "I am here",
        "age": "Age (optional)",
        "age_none": "no answer",
        "u18": "under 18",
        "photo": "I agree that photos showing me may be used for reports and public relations. "
        "Optional – you take part without agreeing too. Parents decide for children.",
        "privacy_short": "Data protection: {agency} stores your check-in as proof for its "
        "funding. Names are stored encrypted, no address.",
        "privacy_more": "More on data protection ({ref})",
        "p_controller": "Controller: {carrier}, {agency}. Contact: {contact}",
        "p_purpose": "Purpose: proof of attendance to the funding body (State of NRW) and "
        "counting the people reached.",
        "p_data": "Data: name (only for named lists), time; optionally age group and photo "
        "consent. No address, nothing about origin or religion.",
        "p_basis": "Legal basis: {basis}.",
        "p_keep": "Storage: until the funding's retention period ends (up to 10 years after "
        "the funding year), then deleted or anonymised.",
        "p_rights": "Your rights: access, correction, deletion, restriction, objection, "
        "withdrawing photo consent, and complaint to the supervisory authority.",
        "ok": "You are checked in. Welcome!",
        "already_checked_in": "You are already checked in.",
        "other_person": "I am a different person",
        "not_open": "Check-in is not open yet.",
        "opens": "It opens at {time}.",
        "closed": "Check-in is closed.",
        "cancelled": "This date is cancelled.",
        "invalid": "This link is not valid. Please scan the QR code on site again.",
        "name_missing": "Please enter your name.",
        "slow_down": "Too many attempts. Please wait a minute.",
        "try_again": "That did not work just now. Please try again – nothing is counted twice.",
        "retry": "Try again",
        "again": "Back",
    },
    "ar": {
        "title": "تسجيل الحضور",
        "when": "التاريخ",
        "time": "الوقت",
        "place": "المكان",
        "name": "اسمك",
        "name_hint": "الاسم الأول واسم العائلة كما في قائمة المشاركين",
        "submit_named": "تسجيل الحضور",
        "submit_anon": "أنا هنا",
        "age": "العمر (اختياري)",
        "age_none": "بدون إجابة",
        "u18": "أقل من 18",
        "photo": "أوافق على استخدام الصور التي أظهر فيها في التقارير والعلاقات العامة. "
        "اختياري – يمكنك المشاركة دون الموافقة أيضًا. الوالدان يقرران عن الأطفال.",
        "privacy_short": "حماية البيانات: تحفظ {agency} تسجيلك كإثبات للتمويل. "
        "تُحفظ الأسماء مشفّرة، بدون عنوان.",
        "privacy_more": "المزيد عن حماية البيانات ({ref})",
        "p_controller": "المسؤول: {carrier}، {agency}. للتواصل: {contact}",
        "p_purpose": "الغرض: إثبات الحضور أمام جهة التمويل (ولاية شمال الراين-وستفاليا) "
        "وعدّ الأشخاص الذين تم الوصول إليهم.",
        "p_data": "البيانات: الاسم (فقط في القوائم بالأسماء)، الوقت؛ اختياريًا الفئة العمرية "
        "والموافقة على الصور. لا عنوان، ولا معلومات عن الأصل أو الدين.",
        "p_basis": "الأساس القانوني: {basis}.",
        "p_keep": "مدة الحفظ: حتى نهاية مدة الحفظ الخاصة بالتمويل (حتى 10 سنوات بعد سنة "
        "التمويل)، ثم تُحذف أو تُجعل مجهولة.",
        "p_rights": "حقوقك: الاطلاع، التصحيح، الحذف، التقييد، الاعتراض، سحب الموافقة على "
        "الصور، والشكوى لدى الجهة الرقابية لحماية البيانات.",
        "ok": "تم تسجيل حضورك. أهلًا وسهلًا!",
        "already_checked_in": "لقد سجّلت حضورك من قبل.",
        "other_person": "أنا شخص آخر",
        "not_open": "التسجيل لم يُفتح بعد.",
        "opens": "يُفتح الساعة {time}.",
        "closed": "التسجيل مغلق.",
        "cancelled": "هذا الموعد ملغى.",
        "invalid": "هذا الرابط غير صالح. يرجى مسح رمز QR في المكان مرة أخرى.",
        "name_missing": "يرجى إدخال اسمك.",
        "slow_down": "محاولات كثيرة. يرجى الانتظار دقيقة.",
        "try_again": "لم ينجح ذلك الآن. يرجى المحاولة مرة أخرى – لن يُحسب أي شيء مرتين.",
        "retry": "حاول مرة أخرى",
        "again": "رجوع",
    },
    "tr": {
        "title": "Giriş kaydı",
        "when": "Tarih",
        "time": "Saat",
        "place": "Yer",
        "name": "Adınız",
        "name_hint": "Katılımcı listesindeki gibi ad ve soyad",
        "submit_named": "Giriş yap",
        "submit_anon": "Buradayım",
        "age": "Yaş (isteğe bağlı)",
        "age_none": "belirtmek istemiyorum",
        "u18": "18 yaş altı",
        "photo": "Görüldüğüm fotoğrafların raporlarda ve tanıtımda kullanılmasını kabul "
        "ediyorum. İsteğe bağlı – onay vermeden de katılırsınız. "
        "Çocuklar için ebeveynler karar verir.",
        "privacy_short": "Veri koruma: {agency} girişinizi destek kanıtı olarak saklar. "
        "İsimler şifreli saklanır, adres alınmaz.",
        "privacy_more": "Veri koruma hakkında daha fazla ({ref})",
        "p_controller": "Sorumlu: {carrier}, {agency}. İletişim: {contact}",
        "p_purpose": "Amaç: katılımın destek veren kuruma (NRW eyaleti) kanıtlanması ve "
        "ulaşılan kişilerin sayılması.",
        "p_data": "Veriler: ad (yalnızca isimli listelerde), zaman; isteğe bağlı yaş grubu ve "
        "fotoğraf onayı. Adres yok, köken veya din bilgisi yok.",
        "p_basis": "Hukuki dayanak: {basis}.",
        "p_keep": "Saklama süresi: desteğin saklama süresi bitene kadar (destek yılından sonra "
        "en fazla 10 yıl), sonra silinir veya anonimleştirilir.",
        "p_rights": "Haklarınız: bilgi alma, düzeltme, silme, kısıtlama, itiraz, fotoğraf "
        "onayını geri alma ve denetim makamına şikâyet.",
        "ok": "Girişiniz yapıldı. Hoş geldiniz!",
        "already_checked_in": "Girişiniz zaten yapılmış.",
        "other_person": "Ben başka bir kişiyim",
        "not_open": "Giriş henüz açılmadı.",
        "opens": "Saat {time}'da açılır.",
        "closed": "Giriş kapandı.",
        "cancelled": "Bu etkinlik iptal edildi.",
        "invalid": "Bu bağlantı geçersiz. Lütfen QR kodunu yerinde yeniden tarayın.",
        "name_missing": "Lütfen adınızı girin.",
        "slow_down": "Çok fazla deneme. Lütfen bir dakika bekleyin.",
        "try_again": "Bu şu anda olmadı. Lütfen tekrar deneyin – hiçbir şey iki kez sayılmaz.",
        "retry": "Tekrar dene",
        "again": "Geri",
    },
    "uk": {
        "title": "Реєстрація",
        "when": "Дата",
        "time": "Час",
        "place": "Місце",
        "name": "Ваше ім'я",
        "name_hint": "Ім'я та прізвище, як у списку учасників",
        "submit_named": "Зареєструватися",
        "submit_anon": "Я тут",
        "age": "Вік (необов'язково)",
        "age_none": "без відповіді",
        "u18": "до 18",
        "photo": "Я погоджуюся, щоб фото, на яких мене видно, використовували для звітів і "
        "публічної інформації. Необов'язково – ви берете участь і без згоди. "
        "За дітей вирішують батьки.",
        "privacy_short": "Захист даних: {agency} зберігає вашу реєстрацію як підтвердження "
        "для фінансування. Імена зберігаються зашифрованими, без адреси.",
        "privacy_more": "Більше про захист даних ({ref})",
        "p_controller": "Відповідальний: {carrier}, {agency}. Контакт: {contact}",
        "p_purpose": "Мета: підтвердження участі перед грантодавцем (земля NRW) і підрахунок "
        "охоплених людей.",
        "p_data": "Дані: ім'я (лише для іменних списків), час; за бажанням вікова група та "
        "згода на фото. Без адреси, без даних про походження чи релігію.",
        "p_basis": "Правова підстава: {basis}.",
        "p_keep": "Строк зберігання: до кінця строку зберігання за фінансуванням (до 10 років "
        "після року фінансування), потім видалення або анонімізація.",
        "p_rights": "Ваші права: доступ, виправлення, видалення, обмеження, заперечення, "
        "відкликання згоди на фото та скарга до наглядового органу.",
        "ok": "Вас зареєстровано. Ласкаво просимо!",
        "already_checked_in": "Ви вже зареєстровані.",
        "other_person": "Я інша людина",
        "not_open": "Реєстрація ще не відкрита.",
        "opens": "Вона відкриється о {time}.",
        "closed": "Реєстрацію закрито.",
        "cancelled": "Цю зустріч скасовано.",
        "invalid": "Це посилання недійсне. Будь ласка, відскануйте QR-код на місці ще раз.",
        "name_missing": "Будь ласка, введіть своє ім'я.",
        "slow_down": "Забагато спроб. Зачекайте хвилину.",
        "try_again": "Зараз не вдалося. Будь ласка, спробуйте ще раз – "
        "нічого не буде пораховано двічі.",
        "retry": "Спробувати ще раз",
        "again": "Назад",
    },
    "ru": {
        "title": "Регистрация",
        "when": "Дата",
        "time": "Время",
        "place": "Место",
        "name": "Ваше имя",
        "name_hint": "Имя и фамилия, как в списке участников",
        "submit_named": "Зарегистрироваться",
        "submit_anon": "Я здесь",
        "age": "Возраст (по желанию)",
        "age_none": "без ответа",
        "u18": "до 18",
        "photo": "Я согласен(на), чтобы фото, на которых меня видно, использовались для "
        "отчётов и информирования общественности. По желанию – вы участвуете и без "
        "согласия. За детей решают родители.",
        "privacy_short": "Защита данных: {agency} хранит вашу регистрацию как подтверждение "
        "для финансирования. Имена хранятся в зашифрованном виде, без адреса.",
        "privacy_more": "Подробнее о защите данных ({ref})",
        "p_controller": "Ответственный: {carrier}, {agency}. Контакт: {contact}",
        "p_purpose": "Цель: подтверждение участия перед финансирующей стороной (земля NRW) и "
        "подсчёт охваченных людей.",
        "p_data": "Данные: имя (только для именных списков), время; по желанию возрастная "
        "группа и согласие на фото. Без адреса, без сведений о происхождении или религии.",
        "p_basis": "Правовое основание: {basis}.",
        "p_keep": "Срок хранения: до окончания срока хранения по финансированию (до 10 лет "
        "после года финансирования), затем удаление или анонимизация.",
        "p_rights": "Ваши права: доступ, исправление, удаление, ограничение, возражение, "
        "отзыв согласия на фото и жалоба в надзорный орган.",
        "ok": "Вы зарегистрированы. Добро пожаловать!",
        "already_checked_in": "Вы уже зарегистрированы.",
        "other_person": "Я другой человек",
        "not_open": "Регистрация ещё не открыта.",
        "opens": "Она откроется в {time}.",
        "closed": "Регистрация закрыта.",
        "cancelled": "Это мероприятие отменено.",
        "invalid": "Эта ссылка недействительна. Пожалуйста, отсканируйте QR-код на месте снова.",
        "name_missing": "Пожалуйста, введите своё имя.",
        "slow_down": "Слишком много попыток. Подождите минуту.",
        "try_again": "Сейчас не получилось. Пожалуйста, попробуйте ещё раз – "
        "ничего не будет засчитано дважды.",
        "retry": "Попробовать ещё раз",
        "again": "Назад",
    },
    "fa": {
        "title": "ثبت حضور",
        "when": "تاریخ",
        "time": "ساعت",
        "place": "مکان",
        "name": "نام شما",
        "name_hint": "نام و نام خانوادگی، مانند فهرست شرکت‌کنندگان",
        "submit_named": "ثبت حضور",
        "submit_anon": "من اینجا هستم",
        "age": "سن (اختیاری)",
        "age_none": "بدون پاسخ",
        "u18": "زیر ۱۸",
        "photo": "موافقم که عکس‌هایی که من در آن‌ها دیده می‌شوم برای گزارش‌ها و اطلاع‌رسانی "
        "استفاده شوند. اختیاری – بدون موافقت هم شرکت می‌کنید. برای کودکان، والدین "
        "تصمیم می‌گیرند.",
        "privacy_short": "حفاظت از داده‌ها: {agency} ثبت حضور شما را به عنوان مدرک برای "
        "حمایت مالی نگه می‌دارد. نام‌ها رمزگذاری‌شده ذخیره می‌شوند، بدون نشانی.",
        "privacy_more": "اطلاعات بیشتر درباره حفاظت از داده‌ها ({ref})",
        "p_controller": "مسئول: {carrier}، {agency}. تماس: {contact}",
        "p_purpose": "هدف: اثبات حضور نزد تأمین‌کننده مالی (ایالت NRW) و شمارش افرادی که به "
        "آن‌ها دسترسی پیدا شده است.",
        "p_data": "داده‌ها: نام (فقط در فهرست‌های با نام)، زمان؛ به‌صورت اختیاری گروه سنی و "
        "موافقت با عکس. بدون نشانی، بدون اطلاعات درباره تبار یا دین.",
        "p_basis": "مبنای حقوقی: {basis}.",
        "p_keep": "مدت نگهداری: تا پایان مدت نگهداری مربوط به حمایت مالی (تا ۱۰ سال پس از سال "
        "حمایت)، سپس حذف یا بی‌نام می‌شود.",
        "p_rights": "حقوق شما: دسترسی، اصلاح، حذف، محدودسازی، اعتراض، پس گرفتن موافقت با عکس "
        "و شکایت نزد مرجع نظارت بر حفاظت از داده‌ها.",
        "ok": "حضور شما ثبت شد. خوش آمدید!",
        "already_checked_in": "حضور شما قبلاً ثبت شده است.",
        "other_person": "من شخص دیگری هستم",
        "not_open": "ثبت حضور هنوز باز نشده است.",
        "opens": "ساعت {time} باز می‌شود.",
        "closed": "ثبت حضور بسته شده است.",
        "cancelled": "این برنامه لغو شده است.",
        "invalid": "این پیوند معتبر نیست. لطفاً کد QR را در محل دوباره اسکن کنید.",
        "name_missing": "لطفاً نام خود را وارد کنید.",
        "slow_down": "تلاش‌های زیاد. لطفاً یک دقیقه صبر کنید.",
        "try_again": "الان انجام نشد. لطفاً دوباره امتحان کنید – هیچ چیزی دو بار شمرده نمی‌شود.",
        "retry": "دوباره امتحان کنید",
        "again": "بازگشت",
    },
}


def t(lang: str, key: str, **params: object) -> str:
    table = T.get(lang, T["de"])
    template = table.get(key) or T["de"][key]
    return template.format(**params) if params else template
