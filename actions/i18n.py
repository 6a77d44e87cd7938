"""Every text the custom actions send, in Turkish and English.

Why here and not in the domain: these messages are built from data (points, dates, ticket numbers),
and Rasa's `rasa data validate` reports every domain response that no story or rule uses, which
would be all of them. Static answers used directly in rules live in `domain/responses.yml`.

Keys are stable names; :func:`t` formats a text with ``str.format`` fields. A unit test checks that
both languages exist for every key and use the same fields.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("tr", "en")
DEFAULT_LANGUAGE = "tr"

#: Shown wherever we refer customers to a phone line (demo values; also in domain/faq.yml).
SUPPORT_PHONE = "0850 000 00 00"

MESSAGES: dict[str, dict[str, str]] = {
    # --- shared -------------------------------------------------------------------------------------------
    "service_unavailable": {
        "tr": "Şu an sistemimize ulaşamıyorum, birazdan tekrar dener misiniz?",
        "en": "I can't reach our system right now. Could you try again in a moment?",
    },
    "unexpected_error": {
        "tr": "Üzgünüm, bir şeyler ters gitti. Birazdan tekrar dener misiniz? İsterseniz sizi bir "
        "temsilcimize de bağlayabilirim.",
        "en": "Sorry, something went wrong. Could you try again in a moment? I can also connect you "
        "with a member of our team.",
    },
    "form_cancelled": {
        "tr": "Tamam, bu işlemi iptal ettim. Başka bir konuda yardımcı olabilir miyim?",
        "en": "Okay, I've cancelled that. Is there anything else I can help you with?",
    },
    "form_aborted": {
        "tr": "Sanırım anlaşamadık, kusura bakmayın. Dilerseniz sizi bir temsilcimize bağlayabilirim.",
        "en": "I'm sorry, I don't think I'm getting this right. I can connect you with a member of our "
        "team if you like.",
    },
    "yes_no_reask": {
        "tr": "Lütfen “Evet” ya da “Hayır” ile yanıtlar mısınız?",
        "en": "Could you answer with “Yes” or “No”, please?",
    },
    "button_yes": {"tr": "Evet", "en": "Yes"},
    "button_no": {"tr": "Hayır", "en": "No"},
    "button_skip": {"tr": "Geç", "en": "Skip"},
    "button_human": {"tr": "👤 Temsilciye bağlan", "en": "👤 Talk to a person"},
    "button_no_thanks": {"tr": "Hayır, teşekkürler", "en": "No, thanks"},
    "button_complain": {"tr": "📝 Şikâyet kaydı aç", "en": "📝 Open a complaint"},
    "button_rewards": {"tr": "🎁 Ödülleri göster", "en": "🎁 Show rewards"},
    # --- language ---------------------------------------------------------------------------------------
    "language_changed": {
        "tr": "Tamam, Türkçe devam edelim 🇹🇷",
        "en": "Sure, let's continue in English 🇬🇧",
    },
    # --- identification ---------------------------------------------------------------------------------
    "ask_identity_key": {
        "tr": "Önce sizi doğrulamam gerekiyor. Kayıtlı telefon numaranızı ya da müşteri numaranızı "
        "(ör. MN123456) yazar mısınız?",
        "en": "First I need to verify it's you. Could you type your registered phone number or your "
        "customer number (e.g. MN123456)?",
    },
    "ask_identity_key_telegram": {
        "tr": "Önce sizi doğrulamam gerekiyor. Aşağıdaki “📱 Numaramı paylaş” düğmesine dokunabilir ya da "
        "kayıtlı telefon numaranızı veya müşteri numaranızı (ör. MN123456) yazabilirsiniz.",
        "en": "First I need to verify it's you. Tap “📱 Share my number” below, or type your registered "
        "phone number or customer number (e.g. MN123456).",
    },
    "ask_identity_key_order": {
        "tr": "Sipariş numaranızı (ör. SP1234567) yazar mısınız? Numara yanınızda değilse kayıtlı telefon "
        "numaranızı ya da müşteri numaranızı yazın; sizi doğrulayıp son siparişlerinizi göstereyim.",
        "en": "Could you type your order number (e.g. SP1234567)? If you don't have it at hand, type your "
        "registered phone number or customer number and I'll show your recent orders once you're verified.",
    },
    "ask_identity_key_ticket": {
        "tr": "Talep numaranızı (ör. T-2026-000123) yazar mısınız? Numara yanınızda değilse kayıtlı telefon "
        "numaranızı ya da müşteri numaranızı yazın; sizi doğrulayıp son talebinizi bulayım.",
        "en": "Could you type your ticket number (e.g. T-2026-000123)? If you don't have it at hand, type "
        "your registered phone number or customer number and I'll find your latest ticket once you're "
        "verified.",
    },
    "ask_identity_key_retry": {
        "tr": "Telefon numaranızı ya da müşteri numaranızı yeniden yazar mısınız?",
        "en": "Could you type your phone number or customer number again?",
    },
    "contact_button": {"tr": "📱 Numaramı paylaş", "en": "📱 Share my number"},
    "identity_key_invalid": {
        "tr": "Bunu bir telefon numarası ya da müşteri numarası olarak okuyamadım.",
        "en": "I couldn't read that as a phone number or a customer number.",
    },
    "ask_birth_date": {
        "tr": "Teşekkürler. Güvenliğiniz için doğum tarihinizi de yazar mısınız? (ör. 14.03.1988)",
        "en": "Thank you. For your security, could you also type your date of birth? (e.g. 14.03.1988)",
    },
    "birth_date_invalid": {
        "tr": "Tarihi anlayamadım. Gün.ay.yıl biçiminde yazabilir misiniz? (ör. 14.03.1988)",
        "en": "I couldn't read that date. Could you write it as day.month.year? (e.g. 14.03.1988)",
    },
    "identity_mismatch": {
        "tr": "Bu bilgiler kayıtlarımızla eşleşmedi. Kalan deneme hakkınız: {attempts_left}.",
        "en": "Those details don't match our records. Attempts left: {attempts_left}.",
    },
    "identity_locked": {
        "tr": "Güvenliğiniz için doğrulama geçici olarak kilitlendi. Lütfen saat {until} sonrasında tekrar "
        "deneyin ya da bir temsilcimizle görüşün.",
        "en": "For your security, verification is temporarily locked. Please try again after {until}, "
        "or talk to a member of our team.",
    },
    "identity_ok": {
        "tr": "Teşekkürler {name}, doğrulama tamam ✅",
        "en": "Thank you {name}, you're verified ✅",
    },
    "identity_ok_anonymous": {
        "tr": "Teşekkürler, doğrulama tamam ✅",
        "en": "Thank you, you're verified ✅",
    },
    "contact_unverified": {
        "tr": "Paylaşılan numarayı doğrulayamadım. Lütfen düğmeyi kullanarak kendi numaranızı paylaşın ya "
        "da müşteri numaranızı yazın.",
        "en": "I couldn't verify the shared number. Please share your own number with the button, or "
        "type your customer number.",
    },
    "contact_unknown": {
        "tr": "Bu numarayla kayıtlı bir üyelik bulamadım. Müşteri numaranızla da deneyebilirsiniz.",
        "en": "I couldn't find a membership with this number. You can also try your customer number.",
    },
    "already_identified": {
        "tr": "Sizi zaten doğruladım, {name} 😊 Nasıl yardımcı olabilirim?",
        "en": "You're already verified, {name} 😊 How can I help?",
    },
    "already_identified_anonymous": {
        "tr": "Sizi zaten doğruladım 😊 Nasıl yardımcı olabilirim?",
        "en": "You're already verified 😊 How can I help?",
    },
    # --- loyalty ----------------------------------------------------------------------------------------
    "loyalty_header": {"tr": "{name}, üyelik durumunuz:", "en": "{name}, here is your membership status:"},
    "loyalty_header_anonymous": {"tr": "Üyelik durumunuz:", "en": "Here is your membership status:"},
    "loyalty_tier": {"tr": "🏅 Seviye: {tier}", "en": "🏅 Tier: {tier}"},
    "loyalty_balance": {"tr": "💳 Kullanılabilir puan: {points}", "en": "💳 Available points: {points}"},
    "loyalty_next_tier": {
        "tr": "⬆️ {tier} seviyesine {points} kaldı.",
        "en": "⬆️ {points} to go until {tier}.",
    },
    "loyalty_top_tier": {
        "tr": "🌟 En yüksek seviyedesiniz, bizi tercih ettiğiniz için teşekkürler!",
        "en": "🌟 You're at our top tier, thank you for shopping with us!",
    },
    "loyalty_expiring": {
        "tr": "⏳ {points}, {date} tarihinde sona erecek. Bu tarihten önce kullanmayı unutmayın.",
        "en": "⏳ {points} expire on {date}. Don't forget to use them before then.",
    },
    "loyalty_birthday": {
        "tr": "🎂 Doğum gününüz kutlu olsun! Size özel kuponunuz: {code}",
        "en": "🎂 Happy birthday! Here is your personal coupon: {code}",
    },
    "loyalty_no_account": {
        "tr": "Size ait bir sadakat hesabı bulamadım. Bir temsilcimiz yardımcı olabilir.",
        "en": "I couldn't find a loyalty account for you. A member of our team can help.",
    },
    # --- rewards ----------------------------------------------------------------------------------------
    "rewards_header": {
        "tr": "Puanınızla alabileceğiniz ödüller (bakiyeniz: {points}). Kullanmak istediğinizi seçin:",
        "en": "Rewards you can get with your points (balance: {points}). Pick the one you'd like:",
    },
    "rewards_next_goal": {
        "tr": "Sıradaki hedef: “{reward}” için {missing} daha.",
        "en": "Next goal: {missing} more for “{reward}”.",
    },
    "rewards_none_affordable": {
        "tr": "Puanınız ({points}) şu an bir ödül için yetmiyor. En yakın ödül “{reward}”: {missing} daha "
        "biriktirmeniz yeterli.",
        "en": "Your points ({points}) aren't enough for a reward yet. The closest one is “{reward}”: "
        "{missing} more to go.",
    },
    "rewards_none": {
        "tr": "Şu anda aktif bir ödül bulunmuyor. Yeni ödüller eklendiğinde puanlarınızı kullanabilirsiniz.",
        "en": "There are no active rewards right now. You'll be able to use your points when new ones arrive.",
    },
    "reward_button": {"tr": "{reward} – {cost}", "en": "{reward} – {cost}"},
    "reward_unknown": {
        "tr": "Bu ödülü bulamadım; lütfen listeden seçin.",
        "en": "I couldn't find that reward; please pick one from the list.",
    },
    "reward_not_affordable": {
        "tr": "“{reward}” için {cost} gerekiyor, bakiyeniz {balance}. {missing} daha biriktirdiğinizde "
        "kullanabilirsiniz.",
        "en": "“{reward}” costs {cost} and your balance is {balance}. You can get it with {missing} more.",
    },
    "reward_out_of_stock": {
        "tr": "Üzgünüm, “{reward}” şu an tükendi.",
        "en": "Sorry, “{reward}” is out of stock right now.",
    },
    "ask_redeem_confirmed": {
        "tr": "“{reward}” için {cost} kullanılacak; kalan bakiyeniz {balance_after} olacak. Onaylıyor musunuz?",
        "en": "“{reward}” will use {cost}, leaving you {balance_after}. Shall I go ahead?",
    },
    "redeem_ok": {
        "tr": "Tamamdır! 🎉 “{reward}” kupon kodunuz: {coupon}\nKalan puanınız: {balance}.",
        "en": "Done! 🎉 Your coupon code for “{reward}”: {coupon}\nRemaining points: {balance}.",
    },
    "redeem_insufficient": {
        "tr": "Puanınız bu ödül için yetmiyor (bakiyeniz: {balance}). Puanınız düşülmedi.",
        "en": "You don't have enough points for this reward (balance: {balance}). Nothing was deducted.",
    },
    "redeem_out_of_stock": {
        "tr": "Üzgünüm, bu ödülün stoku tükendi. Puanınız düşülmedi.",
        "en": "Sorry, this reward just ran out of stock. Nothing was deducted.",
    },
    "redeem_expired": {
        "tr": "Bu ödülün kullanım süresi sona ermiş. Puanınız düşülmedi.",
        "en": "This reward is no longer available. Nothing was deducted.",
    },
    "redeem_unknown": {
        "tr": "Bu ödül artık mevcut değil. Puanınız düşülmedi.",
        "en": "This reward doesn't exist anymore. Nothing was deducted.",
    },
    "redeem_cancelled": {
        "tr": "Peki, ödülü kullanmadım; puanlarınız yerinde duruyor.",
        "en": "All right, I didn't redeem it; your points are untouched.",
    },
    # --- complaints -------------------------------------------------------------------------------------
    "ask_complaint_category": {
        "tr": "Yaşadığınız sorun için üzgünüm, çözmek için buradayım. Şikâyetiniz hangi konuyla ilgili?",
        "en": "I'm sorry you've had a problem; I'm here to sort it out. What is your complaint about?",
    },
    "complaint_category_invalid": {
        "tr": "Bu konuyu listede bulamadım.",
        "en": "I couldn't match that to one of the topics.",
    },
    "ask_complaint_order_number": {
        "tr": "Şikâyetiniz bir siparişle ilgiliyse sipariş numarasını yazar mısınız? (ör. SP1234567)",
        "en": "If your complaint is about an order, could you type the order number? (e.g. SP1234567)",
    },
    "button_no_order": {"tr": "Siparişle ilgili değil", "en": "Not about an order"},
    "complaint_order_invalid": {
        "tr": "Bu bir sipariş numarasına benzemiyor (SP ve 7 rakam, ör. SP1234567).",
        "en": "That doesn't look like an order number (SP and 7 digits, e.g. SP1234567).",
    },
    "complaint_order_not_found": {
        "tr": "{order} numaralı bir sipariş bulamadım. Numarayı kontrol eder misiniz?",
        "en": "I couldn't find order {order}. Could you check the number?",
    },
    "ask_complaint_description": {
        "tr": "Lütfen yaşadığınız sorunu kısaca anlatır mısınız?",
        "en": "Could you briefly describe what happened?",
    },
    "complaint_description_too_short": {
        "tr": "Ekibimizin yardımcı olabilmesi için biraz daha ayrıntı yazar mısınız?",
        "en": "Could you add a little more detail so our team can help?",
    },
    "ask_complaint_confirmed": {
        "tr": "Kaydı şu bilgilerle açıyorum:\n• Konu: {category}\n• Sipariş: {order}\n• Açıklama: {description}"
        "\nOnaylıyor musunuz?",
        "en": "I'll open a ticket with these details:\n• Topic: {category}\n• Order: {order}\n"
        "• Description: {description}\nShall I go ahead?",
    },
    "no_order_label": {"tr": "yok", "en": "none"},
    "ticket_opened": {
        "tr": "Şikâyetinizi kaydettim. Talep numaranız: {ref}\nEkibimiz en geç {hours} saat içinde size dönüş yapacak.",
        "en": "I've registered your complaint. Your ticket number: {ref}\nOur team will get back to you "
        "within {hours} hours.",
    },
    "ticket_opened_urgent": {
        "tr": "Şikâyetinizi öncelikli olarak kaydettim. Talep numaranız: {ref}\nEkibimiz en geç {hours} saat "
        "içinde size dönüş yapacak.",
        "en": "I've registered your complaint with high priority. Your ticket number: {ref}\nOur team will "
        "get back to you within {hours} hours.",
    },
    "complaint_cancelled": {
        "tr": "Peki, kaydı açmadım. Dilediğiniz zaman tekrar yazabilirsiniz.",
        "en": "All right, I haven't opened a ticket. You can write to me again any time.",
    },
    "ticket_status": {
        "tr": "{ref} numaralı talebiniz: {status}\nKonu: {category} · Açılış: {created}",
        "en": "Ticket {ref}: {status}\nTopic: {category} · Opened: {created}",
    },
    "ticket_status_resolved_on": {
        "tr": "Çözüldüğü tarih: {date}",
        "en": "Resolved on: {date}",
    },
    "ticket_status_waiting": {
        "tr": "Ekibimiz en geç {hours} saat içinde dönüş yapacak.",
        "en": "Our team will get back to you within {hours} hours.",
    },
    "ticket_not_found": {
        "tr": "{ref} numaralı bir talep bulamadım. Numarayı kontrol eder misiniz? (ör. T-2026-000123)",
        "en": "I couldn't find ticket {ref}. Could you check the number? (e.g. T-2026-000123)",
    },
    "ticket_none": {
        "tr": "Adınıza kayıtlı bir talep görünmüyor.",
        "en": "I can't see any tickets in your name.",
    },
    "ask_followup_resolved": {
        "tr": "Merhaba! {ref} numaralı talebinizle ilgili yazıyorum: sorununuz çözüldü mü?",
        "en": "Hello! I'm following up on your ticket {ref}: has your issue been resolved?",
    },
    "ask_followup_resolved_noref": {
        "tr": "Merhaba! Son talebinizle ilgili yazıyorum: sorununuz çözüldü mü?",
        "en": "Hello! I'm following up on your recent ticket: has your issue been resolved?",
    },
    "followup_resolved_thanks": {
        "tr": "Buna çok sevindik, teşekkür ederiz! 🙌",
        "en": "We're so glad to hear that, thank you! 🙌",
    },
    "followup_reopened": {
        "tr": "Bunu duyduğumuza üzüldük. {ref} numaralı talebinizi yeniden ele alınmak üzere ekibimize "
        "ilettim; en kısa sürede size dönüş yapacağız.",
        "en": "We're sorry to hear that. I've handed ticket {ref} back to our team; we'll get back to you "
        "as soon as possible.",
    },
    "followup_new_ticket": {
        "tr": "Bunu duyduğumuza üzüldük. Konuyu yeniden incelemek için yeni bir kayıt açtım: {ref}. Ekibimiz "
        "en geç {hours} saat içinde size dönüş yapacak.",
        "en": "We're sorry to hear that. I've opened a new ticket so we look into it again: {ref}. Our team "
        "will get back to you within {hours} hours.",
    },
    # --- orders -----------------------------------------------------------------------------------------
    "order_placed": {
        "tr": "{order} numaralı siparişinizi {date} tarihinde aldık; yakında hazırlanmaya başlanacak.",
        "en": "We received your order {order} on {date}; it will be prepared shortly.",
    },
    "order_preparing": {
        "tr": "{order} numaralı siparişiniz hazırlanıyor.",
        "en": "Your order {order} is being prepared.",
    },
    "order_shipped": {
        "tr": "{order} numaralı siparişiniz {date} tarihinde kargoya verildi.",
        "en": "Your order {order} was shipped on {date}.",
    },
    "order_out_for_delivery": {
        "tr": "{order} numaralı siparişiniz dağıtıma çıktı, bugün teslim edilmesi bekleniyor 🚚",
        "en": "Your order {order} is out for delivery and should arrive today 🚚",
    },
    "order_delivered": {
        "tr": "{order} numaralı siparişiniz {date} tarihinde teslim edildi.",
        "en": "Your order {order} was delivered on {date}.",
    },
    "order_cancelled": {
        "tr": "{order} numaralı sipariş iptal edildi.",
        "en": "Order {order} was cancelled.",
    },
    "order_returned": {
        "tr": "{order} numaralı siparişin iadesi alındı.",
        "en": "Order {order} has been returned.",
    },
    "order_tracking": {
        "tr": "Kargo: {carrier} · Takip numarası: {code}",
        "en": "Carrier: {carrier} · Tracking number: {code}",
    },
    "order_eta": {"tr": "Tahmini teslimat: {date}", "en": "Estimated delivery: {date}"},
    "order_late": {
        "tr": "Tahmini teslim tarihi geçti, gecikme için özür dileriz. Dilerseniz şikâyet kaydı açabilirim.",
        "en": "The estimated delivery date has passed; we apologise for the delay. I can open a complaint "
        "for you if you like.",
    },
    "refund_pending": {"tr": "Para iadeniz işlemde.", "en": "Your refund is being processed."},
    "refund_refunded": {"tr": "Para iadeniz tamamlandı.", "en": "Your refund has been completed."},
    "order_not_found": {
        "tr": "{order} numaralı bir sipariş bulamadım. Numarayı kontrol eder misiniz? (ör. SP1234567)",
        "en": "I couldn't find order {order}. Could you check the number? (e.g. SP1234567)",
    },
    "recent_orders_header": {"tr": "Son siparişleriniz:", "en": "Your recent orders:"},
    "recent_order_line": {"tr": "• {order} – {status} ({date})", "en": "• {order} – {status} ({date})"},
    "recent_orders_pick": {
        "tr": "Ayrıntısını görmek istediğiniz siparişi seçebilirsiniz.",
        "en": "Pick an order to see its details.",
    },
    "recent_orders_none": {
        "tr": "Hesabınızda kayıtlı bir sipariş görünmüyor.",
        "en": "I can't see any orders in your account.",
    },
    "order_status_placed": {"tr": "Alındı", "en": "Received"},
    "order_status_preparing": {"tr": "Hazırlanıyor", "en": "Being prepared"},
    "order_status_shipped": {"tr": "Kargoda", "en": "Shipped"},
    "order_status_out_for_delivery": {"tr": "Dağıtımda", "en": "Out for delivery"},
    "order_status_delivered": {"tr": "Teslim edildi", "en": "Delivered"},
    "order_status_cancelled": {"tr": "İptal edildi", "en": "Cancelled"},
    "order_status_returned": {"tr": "İade edildi", "en": "Returned"},
    # --- returns ----------------------------------------------------------------------------------------
    "return_within_window": {
        "tr": "{order} numaralı siparişinizi iade etmek için {days} gününüz var. Ürünü faturasıyla birlikte "
        "herhangi bir mağazamıza götürebilir ya da uygulamadaki “Siparişlerim” bölümünden ücretsiz kargo "
        "kodu alabilirsiniz. Para iadesi, ürün bize ulaştıktan sonra 3–10 iş günü içinde ödeme yönteminize "
        "yapılır.",
        "en": "You have {days} days left to return order {order}. Bring the item with its invoice to any of "
        "our stores, or get a free shipping code under “My orders” in our app. The refund goes back to your "
        "payment method within 3–10 business days after the item reaches us.",
    },
    "return_last_day": {
        "tr": "{order} numaralı siparişiniz için iade süresinin son günü bugün. Ürünü faturasıyla birlikte "
        "bugün bir mağazamıza götürebilir ya da uygulamadaki “Siparişlerim” bölümünden ücretsiz kargo kodu "
        "alabilirsiniz.",
        "en": "Today is the last day to return order {order}. Bring the item with its invoice to one of our "
        "stores today, or get a free shipping code under “My orders” in our app.",
    },
    "return_window_closed": {
        "tr": "{order} numaralı siparişin {window} günlük iade süresi doldu. Ürün kusurluysa garanti "
        "kapsamında yardımcı olabiliriz; dilerseniz şikâyet kaydı açayım.",
        "en": "The {window}-day return period for order {order} has ended. If the item is faulty we can "
        "help under warranty; I can open a complaint for you.",
    },
    "return_not_delivered": {
        "tr": "{order} numaralı sipariş henüz teslim edilmedi. Teslim aldıktan sonra iade edebilir ya da "
        "teslimat sırasında paketi teslim almayabilirsiniz; bu durumda ücret iadesi otomatik yapılır.",
        "en": "Order {order} hasn't been delivered yet. You can return it after delivery, or refuse the "
        "parcel at the door, in which case the refund is automatic.",
    },
    "return_cancelled": {
        "tr": "{order} numaralı sipariş iptal edildiği için iade gerekmiyor.",
        "en": "Order {order} was cancelled, so there's nothing to return.",
    },
    "return_already_returned": {
        "tr": "{order} numaralı siparişin iadesi bize ulaştı.",
        "en": "We have received the return of order {order}.",
    },
    "return_pick_order": {
        "tr": "Hangi siparişiniz için iade bilgisi istersiniz?",
        "en": "Which order would you like return information for?",
    },
    # --- feedback ---------------------------------------------------------------------------------------
    "ask_feedback_text": {
        "tr": "Görüşleriniz bizim için çok değerli! Paylaşmak istediklerinizi yazar mısınız?",
        "en": "Your opinion matters a lot to us! What would you like to share?",
    },
    "feedback_text_too_short": {
        "tr": "Biraz daha açabilir misiniz? Birkaç kelime yeterli.",
        "en": "Could you tell me a little more? A few words are enough.",
    },
    "ask_feedback_rating": {
        "tr": "Teşekkürler! Genel deneyiminizi 1 (çok kötü) ile 5 (çok iyi) arasında puanlar mısınız? "
        "İsterseniz geçebilirsiniz.",
        "en": "Thank you! How would you rate your overall experience from 1 (very poor) to 5 (excellent)? "
        "Feel free to skip.",
    },
    "feedback_rating_invalid": {
        "tr": "1 ile 5 arasında bir puan yazabilir ya da “geç” diyebilirsiniz.",
        "en": "You can type a score from 1 to 5, or say “skip”.",
    },
    "feedback_thanks_positive": {
        "tr": "Güzel sözleriniz için çok teşekkür ederiz! Ekibimizle paylaşacağım 😊",
        "en": "Thank you so much for your kind words! I'll share them with our team 😊",
    },
    "feedback_thanks_neutral": {
        "tr": "Geri bildiriminiz için teşekkür ederiz, ilgili ekibe ilettim.",
        "en": "Thank you for your feedback, I've passed it on to the team.",
    },
    "feedback_thanks_negative": {
        "tr": "Yaşadığınız olumsuzluk için üzgünüz. Geri bildiriminizi ilgili ekibe ilettim. İsterseniz "
        "şikâyet kaydı da açabilirim; böylece size dönüş yapılır.",
        "en": "We're sorry about your experience. I've passed your feedback on to the team. I can also "
        "open a complaint so that someone gets back to you.",
    },
    # --- surveys ----------------------------------------------------------------------------------------
    "ask_csat_score": {
        "tr": "Son deneyiminizden ne kadar memnun kaldınız? 1 (hiç memnun değilim) ile 5 (çok memnunum) "
        "arasında puan verir misiniz?",
        "en": "How satisfied were you with your recent experience? Could you rate it from 1 (not at all) "
        "to 5 (very satisfied)?",
    },
    "ask_csat_score_ticket": {
        "tr": "Talebinizle ilgilenen ekibimizden ne kadar memnun kaldınız? 1 (hiç memnun değilim) ile 5 (çok "
        "memnunum) arasında puan verir misiniz?",
        "en": "How satisfied were you with how our team handled your request? Could you rate it from 1 (not at "
        "all) to 5 (very satisfied)?",
    },
    "csat_scale": {
        "tr": "1 (hiç memnun değilim) ile 5 (çok memnunum) arasında bir puan yazabilirsiniz.",
        "en": "Just reply with a score from 1 (not at all satisfied) to 5 (very satisfied).",
    },
    "nps_scale": {
        "tr": "0 (hiç) ile 10 (kesinlikle) arasında bir puan yazabilirsiniz.",
        "en": "Just reply with a score from 0 (not at all likely) to 10 (extremely likely).",
    },
    "csat_score_hint": {
        "tr": "Puanınızı 1 ile 5 arasında bir sayı olarak yazar mısınız? Örneğin: 4",
        "en": "Could you give a number from 1 to 5? For example: 4",
    },
    "ask_nps_score": {
        "tr": "Bizi bir arkadaşınıza tavsiye etme olasılığınız nedir? 0 (hiç) ile 10 (kesinlikle) arasında "
        "puan verir misiniz?",
        "en": "How likely are you to recommend us to a friend? Could you rate it from 0 (not at all) to 10 "
        "(definitely)?",
    },
    "nps_score_hint": {
        "tr": "Puanınızı 0 ile 10 arasında bir sayı olarak yazar mısınız? Örneğin: 8",
        "en": "Could you give a number from 0 to 10? For example: 8",
    },
    "survey_aborted": {
        "tr": "Sorun değil, yine de zaman ayırdığınız için teşekkür ederiz!",
        "en": "No problem, thank you for your time anyway!",
    },
    "ask_survey_comment_low": {
        "tr": "Bunu duyduğumuza üzüldük. Neyi daha iyi yapabilirdik, birkaç kelimeyle yazar mısınız? "
        "(Geçmek için “geç” yazabilirsiniz.)",
        "en": "We're sorry to hear that. What could we have done better? A few words are enough. "
        "(Type “skip” to skip.)",
    },
    "ask_survey_comment_high": {
        "tr": "Teşekkürler! Puanınızın nedenini kısaca paylaşır mısınız? (Geçmek için “geç” yazabilirsiniz.)",
        "en": "Thank you! Could you tell us briefly why you gave this score? (Type “skip” to skip.)",
    },
    "survey_thanks": {
        "tr": "Değerlendirmeniz için teşekkür ederiz! 🙏",
        "en": "Thank you for your feedback! 🙏",
    },
    "survey_low_recovery": {
        "tr": "Yaşadığınız olumsuz deneyim için gerçekten üzgünüz. Ekibimiz konuyu inceleyecek; kayıt "
        "numaranız: {ref}. Bir temsilcimizle görüşmek ister misiniz?",
        "en": "We're truly sorry about your experience. Our team will look into it; your reference is "
        "{ref}. Would you like to talk to a member of our team?",
    },
    "survey_low_no_ticket": {
        "tr": "Yaşadığınız olumsuz deneyim için gerçekten üzgünüz; geri bildiriminizi ekibimize ilettim. "
        "Bir temsilcimizle görüşmek ister misiniz?",
        "en": "We're truly sorry about your experience; I've passed your feedback on to our team. Would you "
        "like to talk to a member of our team?",
    },
    "campaign_opt_out_hint": {
        "tr": "Bu tür mesajları almak istemezseniz DUR yazmanız yeterli.",
        "en": "Reply STOP if you'd rather not receive these messages.",
    },
    # --- people -----------------------------------------------------------------------------------------
    "handover_requested": {
        "tr": "Sizi bir temsilcimize aktarıyorum; kısa süre içinde buradan yazacak. Beklerken konuyu kısaca "
        "yazabilirsiniz.",
        "en": "I'm passing you to a member of our team; they'll write to you here shortly. While you wait, "
        "feel free to describe your request.",
    },
    "handover_already_requested": {
        "tr": "Talebinizi aldım, bir temsilcimiz en kısa sürede buradan yazacak.",
        "en": "Your request is in; a member of our team will write to you here as soon as possible.",
    },
    "handover_unavailable": {
        "tr": "Şu an sizi buradan bir temsilciye bağlayamıyorum. Müşteri hizmetlerimize "
        + SUPPORT_PHONE
        + " numarasından (hafta içi 09:00–18:00) ulaşabilirsiniz; dilerseniz şikâyet kaydı da açabilirim.",
        "en": "I can't connect you with a person here right now. You can call customer service on "
        + SUPPORT_PHONE
        + " (weekdays 09:00–18:00), or I can open a complaint for you.",
    },
    "handover_timeout": {
        "tr": "Üzgünüz, şu an tüm temsilcilerimiz meşgul. Talebiniz kayıtlı; en kısa sürede size buradan "
        "dönüş yapacağız. Dilerseniz şikâyet kaydı da açabilirim.",
        "en": "Sorry, all our team members are busy right now. Your request is noted and we'll get back to "
        "you here as soon as possible. I can also open a complaint for you.",
    },
    # --- consent and privacy ----------------------------------------------------------------------------
    "opt_out_done": {
        "tr": "Tamam, size artık anket ve bilgilendirme mesajı göndermeyeceğiz. Bana istediğiniz zaman "
        "yazabilirsiniz; fikrinizi değiştirirseniz BAŞLA yazmanız yeterli.",
        "en": "Okay, we won't send you surveys or updates anymore. You can still write to me any time; if "
        "you change your mind, just type START.",
    },
    "opt_in_done": {
        "tr": "Teşekkürler! Memnuniyet anketleri ve talep takibi mesajları için izninizi kaydettim. "
        "İstediğiniz zaman DUR yazarak geri alabilirsiniz.",
        "en": "Thank you! I've recorded your consent to satisfaction surveys and ticket follow-ups. You can "
        "withdraw it any time by typing STOP.",
    },
    "ask_delete_confirmed": {
        "tr": "Verilerinizin silinmesini istediniz. Onaylarsanız:\n• ad, telefon, e-posta ve doğum tarihiniz "
        "silinir, diğer kayıtlarınız anonimleştirilir,\n• puanlarınız ve kuponlarınız kullanılamaz hale "
        "gelir, sadakat üyeliğiniz sona erer,\n• bu işlem geri alınamaz.\nYasal olarak saklamamız gereken "
        "kayıtlar (ör. faturalar) kimliğinizle ilişkilendirilmeden saklanır. Devam edelim mi?",
        "en": "You asked us to delete your data. If you confirm:\n• your name, phone, e-mail and date of "
        "birth are deleted and your other records are anonymised,\n• your points and coupons can no longer "
        "be used and your loyalty membership ends,\n• this cannot be undone.\nRecords we must keep by law "
        "(e.g. invoices) are kept without being linked to you. Shall I go ahead?",
    },
    "button_delete_yes": {"tr": "Evet, verilerimi sil", "en": "Yes, delete my data"},
    "button_delete_no": {"tr": "Hayır, vazgeçtim", "en": "No, keep my data"},
    "delete_done": {
        "tr": "Talebiniz tamamlandı: kişisel verileriniz silindi ve kalan kayıtlar anonimleştirildi. Bizi "
        "tercih ettiğiniz için teşekkür ederiz.",
        "en": "Done: your personal data has been deleted and the remaining records anonymised. Thank you "
        "for having been with us.",
    },
    "delete_already": {
        "tr": "Verileriniz daha önce silinmiş.",
        "en": "Your data had already been deleted.",
    },
    "delete_cancelled": {
        "tr": "Peki, verilerinizi silmedim. Başka bir konuda yardımcı olabilir miyim?",
        "en": "All right, I haven't deleted anything. Is there anything else I can help with?",
    },
    "export_header": {
        "tr": "Hakkınızda sakladığımız verilerin bir kopyasını hazırladım. Özet:",
        "en": "I've prepared a copy of the data we hold about you. Summary:",
    },
    "export_line": {"tr": "• {label}: {count}", "en": "• {label}: {count}"},
    "export_footer": {
        "tr": "Kopyanın tamamı bu mesajla birlikte dosya olarak iletilir. Bir yanlışlık görürseniz bize "
        "yazabilirsiniz.",
        "en": "The full copy comes with this message as a file. If anything looks wrong, just let us know.",
    },
    # --- fallback ---------------------------------------------------------------------------------------
    "ask_rephrase": {
        "tr": "Kusura bakmayın, tam anlayamadım. Başka bir şekilde yazabilir misiniz?",
        "en": "Sorry, I didn't quite get that. Could you put it another way?",
    },
    "ask_affirmation": {
        "tr": "Şunu mu demek istediniz: {label}?",
        "en": "Did you mean: {label}?",
    },
    "default_fallback": {
        "tr": "Üzgünüm, bu konuda yardımcı olamadım. Dilerseniz sizi bir temsilcimize bağlayabilirim.",
        "en": "I'm sorry, I couldn't help with that. I can connect you with a member of our team if you like.",
    },
}


def normalize_language(value: object) -> str:
    """``"en"`` / ``"tr"`` as given, anything else (None, "de", ...) -> Turkish, the default."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE  # type: ignore[return-value]


def t(key: str, language: object, **fields: Any) -> str:
    """The text ``key`` in ``language`` with ``fields`` filled in."""
    text = MESSAGES[key][normalize_language(language)]
    return text.format(**fields) if fields else text
