"""Build data/pii_eval.jsonl from marked-up texts: ⟦TYPE:value⟧ is PII, ⟪KIND:value⟫ a business fact that must survive.
Not part of the package; run from the repo root: python data/make_pii_eval.py"""
import json, random, re, sys
from pathlib import Path

PII = {"P": "PERSON", "E": "EMAIL_ADDRESS", "PH": "PHONE_NUMBER", "CC": "CREDIT_CARD", "IBAN": "IBAN_CODE",
       "IP": "IP_ADDRESS", "SSN": "US_SSN", "L": "LOCATION"}
BIZ = {"O": "ORDER_ID", "C": "CUSTOMER_ID", "PR": "PRODUCT", "S": "STATUS", "D": "DATE", "A": "AMOUNT",
       "CR": "CARRIER", "T": "TRACKING", "SKU": "SKU"}
MARK = re.compile(r"⟦(\w+):(.*?)⟧|⟪(\w+):(.*?)⟫")
# business facts marked automatically where not marked by hand
AUTO = [("CUSTOMER_ID", r"\bC\d{4}\b"), ("ORDER_ID", r"\b[A-Z]\d{4}\b"), ("CARRIER", r"\b(?:UPS|FedEx|DHL|USPS)\b"),
        ("STATUS", r"\b(?:shipped|delivered|pending|processing|cancelled|refunded|returned)\b"),
        ("DATE", r"\b20\d\d-\d\d-\d\d\b"), ("AMOUNT", r"[$€£]\s?\d[\d,]*(?:\.\d\d)?|\b\d+\.\d\d\s?(?:USD|EUR|GBP|INR)\b")]

def parse(marked: str, kind: str) -> dict:
    text, ents, keep, pos = [], [], [], 0
    for m in MARK.finditer(marked):
        text.append(marked[pos:m.start()])
        start = sum(map(len, text))
        if m.group(1):
            text.append(m.group(2)); ents.append({"type": PII[m.group(1)], "start": start, "end": start + len(m.group(2))})
        else:
            text.append(m.group(4)); keep.append({"type": BIZ[m.group(3)], "start": start, "end": start + len(m.group(4))})
        pos = m.end()
    text.append(marked[pos:]); text = "".join(text)
    assert "⟦" not in text and "⟪" not in text and "⟧" not in text and "⟫" not in text, marked
    taken = [(e["start"], e["end"]) for e in ents + keep]
    for t, rx in AUTO:
        for m in re.finditer(rx, text):
            if all(m.end() <= s or e <= m.start() for s, e in taken):
                keep.append({"type": t, "start": m.start(), "end": m.end()}); taken.append((m.start(), m.end()))
    ents.sort(key=lambda e: e["start"]); keep.sort(key=lambda e: e["start"])
    return {"text": text, "entities": ents, "keep": keep, "kind": kind}

def js(d) -> str:
    "A tool result as the shop's tools write it (json.dumps defaults), markup kept inside the values."
    return json.dumps(d, ensure_ascii=False)

# ---------------------------------------------------------------- chat messages: names, emails, places
CHAT = [
 "Hi, I'm ⟦P:Maria Gonzalez⟧ and my order A1234 hasn't arrived yet.",
 "Hello, this is ⟦P:Ahmed Khan⟧. Can you check order A1002 for me?",
 "My name is ⟦P:Priya Raghunathan⟧, customer ⟪C:C1001⟫. The parcel says delivered but I never got it.",
 "Hey there, ⟦P:Wei Zhang⟧ here – order A3310 was cancelled without notice?",
 "Good morning! I am ⟦P:Oluwaseun Adeyemi⟧ from ⟦L:Lagos⟧, order A4401 is still pending.",
 "Hej, ⟦P:Sven Lindqvist⟧ writing from ⟦L:Stockholm⟧. Did the ⟪PR:Wireless Mouse⟫ ship?",
 "Buongiorno, sono ⟦P:Giulia Rossi⟧. Order A5120 arrived damaged, I'd like a refund.",
 "Bonjour, je m'appelle ⟦P:Jean-Pierre Dubois⟧, my parcel with DHL is stuck in ⟦L:Lyon⟧.",
 "This is ⟦P:Hiroshi Tanaka⟧ in ⟦L:Osaka⟧; order A7781 shows processing for a week.",
 "Hi, ⟦P:Fatima Al-Sayed⟧ here. Please send the replacement to my new address in ⟦L:Dubai⟧.",
 "Dzień dobry, ⟦P:Aleksandra Nowak⟧. I returned the ⟪PR:Ergo Office Chair⟫ on 2026-10-14.",
 "Olá, meu nome é ⟦P:João Silva⟧ – I live in ⟦L:São Paulo⟧ and FedEx lost my box.",
 "It's ⟦P:Siobhan O'Connor⟧ again, any update on A6602?",
 "⟦P:Dmitri Volkov⟧ speaking. The USPS driver left order A8004 at the wrong door.",
 "Hello team, ⟦P:Kwame Mensah⟧ from ⟦L:Accra⟧. Was order A9015 refunded?",
 "Please cancel the order for ⟦P:Anna Müller⟧, she moved to ⟦L:Hamburg⟧.",
 "Thanks ⟦P:Lars Eriksen⟧, your refund of $42.50 is on its way.",
 "Dear ⟦P:Mei Ling Chen⟧, your order A1207 has shipped with UPS.",
 "Hi ⟦P:Rahul⟧, the ⟪PR:USB-C Charger⟫ you ordered is out of stock until 2026-12-01.",
 "Merhaba, I'm ⟦P:Ayşe Yılmaz⟧ from ⟦L:Istanbul⟧ and I never received order A3321.",
 "Call me back please – ⟦P:Chidi Okafor⟧, customer ⟪C:C2044⟫.",
 "⟦P:Sophie Martin⟧ asked whether order A4410 can still be changed.",
 "I spoke with ⟦P:Carlos Hernández⟧ yesterday about the refunded items.",
 "Regards,\n⟦P:Yuki Sato⟧",
 "Best wishes, ⟦P:Olga Petrova⟧ (order A5502)",
 "My husband ⟦P:Björn Svensson⟧ placed order A6610 with my card.",
 "Hi! ⟦P:Leila Haddad⟧ here, writing from ⟦L:Beirut⟧ – is shipping to ⟦L:Lebanon⟧ possible?",
 "The parcel was signed for by ⟦P:Kim Min-jun⟧ at 14:02.",
 "Agent note: ⟦P:Arjun Patel⟧ confirmed the address change for order A7120.",
 "Hello, I'm ⟦P:Emily Clarke⟧ and I want to return the ⟪PR:Bamboo Cutting Board⟫.",
 "Customer ⟦P:James O'Brien⟧ reports that DHL marked A8123 delivered.",
 "Sawubona, this is ⟦P:Zanele Dlamini⟧ in ⟦L:Johannesburg⟧.",
 "Hola, soy ⟦P:Mateo Fernández⟧ de ⟦L:Madrid⟧, ¿dónde está mi pedido A9321?",
 "⟦P:Hannah Schmidt⟧ wrote: the ⟪PR:Noise Cancelling Headphones⟫ stopped working.",
 "Salut, c'est ⟦P:Pierre Lefèvre⟧, j'habite à ⟦L:Marseille⟧.",
 "Thank you ⟦P:Ngozi Eze⟧, the refund of €19.99 was processed.",
 "I'm ⟦P:Ravi Iyer⟧ – my parcel went to ⟦L:Chennai⟧ instead of ⟦L:Bengaluru⟧.",
 "please help, my name is ⟦P:thandiwe ndlovu⟧ and order A1500 is late",
 "Hi, ⟦P:Santiago López⟧ from ⟦L:Buenos Aires⟧. Does UPS deliver on Saturdays?",
 "Hej! ⟦P:Ingrid Johansson⟧, ⟦L:Oslo⟧. The order A1620 is marked returned.",
 "Γεια σας, ⟦P:Nikos Papadopoulos⟧ here, writing from ⟦L:Athens⟧.",
 "Mr ⟦P:Tran Van Duc⟧ called about order A1733.",
 "Ms. ⟦P:Malak Nasser⟧ would like the invoice for A1844.",
 "Hello, I am ⟦P:Nguyen Thi Mai⟧, customer ⟪C:C3301⟫.",
 "⟦P:Aiko⟧ and ⟦P:Kenji Watanabe⟧ share the account C4402.",
 "Please update the recipient to ⟦P:Isabella Rossi⟧.",
 "Hi, it's ⟦P:Mohammed Al-Farsi⟧. The item arrived broken.",
 "Forwarding this to ⟦P:Sarah Johnson⟧ in billing.",
 "Dear ⟦P:Mr. Okonkwo⟧, we are sorry for the delay.",
 "Happy to help, ⟦P:Alejandro⟧! Order A2210 will ship tomorrow.",
]
EMAIL = [
 "You can reach me at ⟦E:maria.gonzalez@example.com⟧ about order A1234.",
 "My email is ⟦E:a.khan+orders@gmail.com⟧, please send the invoice there.",
 "Contact: ⟦E:priya_r@company.co.in⟧",
 "Send the label to ⟦E:WEI.ZHANG@Outlook.COM⟧ please.",
 "⟦P:Jean-Pierre⟧ (⟦E:jp.dubois@orange.fr⟧) asked about order A2020.",
 "email: ⟦E:t.hiroshi@docomo.ne.jp⟧ / order A3030 / status pending",
 "Reply to ⟦E:o.adeyemi@yahoo.co.uk⟧ or ⟦E:seun.adeyemi@proton.me⟧.",
 "I changed my address to ⟦E:sven.lindqvist@telia.se⟧ last week.",
 "⟦E:giulia.rossi@libero.it⟧ wrote: where is my refund?",
 "New login email: ⟦E:k.mensah@mtn.com.gh⟧",
 "Please use ⟦E:anna-mueller_84@web.de⟧ for all invoices.",
 "<⟦E:joao.silva@uol.com.br⟧> Re: order A4045 delivered",
 "The customer's email (⟦E:l.haddad@hotmail.com⟧) bounced.",
 "cc ⟦E:billing.team@acme-corp.com⟧ on the refund for A5055",
 "My work email is ⟦E:r.iyer@infosys.com⟧, personal ⟦E:ravi.iyer1990@gmail.com⟧.",
]
PHONE = [
 "Call me on ⟦PH:(415) 555-0132⟧ after 5pm.",
 "My phone number is ⟦PH:+1 212 736 5000⟧.",
 "You can text ⟦PH:646-555-0178⟧ about order A1110.",
 "⟦L:US⟧ office: ⟦PH:+1-800-275-8777⟧",
 "Mobile: ⟦PH:07700 900123⟧ (⟦L:UK⟧)",
 "Please ring ⟦PH:+44 20 7946 0958⟧ during office hours.",
 "Tel. ⟦PH:020 7946 0018⟧ – ask for ⟦P:Emily⟧.",
 "Meine Nummer ist ⟦PH:+49 30 901820⟧.",
 "Handy: ⟦PH:0171 1234567⟧",
 "Erreichbar unter ⟦PH:+49 (0)89 1234567⟧.",
 "Mon numéro: ⟦PH:06 12 34 56 78⟧",
 "Appelez-moi au ⟦PH:+33 1 42 68 53 00⟧ s'il vous plaît.",
 "Fixe: ⟦PH:01.42.68.53.00⟧",
 "My number is ⟦PH:+91 98765 43210⟧, call before 8pm IST.",
 "Office landline ⟦PH:+91-22-2778-1234⟧",
 "WhatsApp ⟦PH:098765 43210⟧ for delivery updates.",
 "Phone: ⟦PH:+61 2 9374 4000⟧ (⟦L:Sydney⟧ office)",
 "電話 ⟦PH:+81 3-1234-5678⟧",
 "Celular: ⟦PH:+55 11 91234-5678⟧",
 "Llámame al ⟦PH:+34 612 345 678⟧.",
 "Numero: ⟦PH:+39 06 6988 4100⟧",
 "Bel me op ⟦PH:+31 20 123 4567⟧.",
 "Tel: ⟦PH:+52 55 1234 5678⟧",
 "Call ⟦PH:+234 803 123 4567⟧ when the courier arrives.",
 "Reach me at ⟦PH:+65 6123 4567⟧.",
 "Mobile ⟦PH:+971 50 123 4567⟧, I'm in ⟦L:Dubai⟧ until Friday.",
 "My cell is ⟦PH:555-0142⟧.",
 "ph ⟦PH:+15550142000⟧",
 "Contact ⟦P:Lars⟧ at ⟦PH:+47 22 12 34 56⟧ or ⟦E:lars.eriksen@online.no⟧.",
 "Please call ⟦PH:415.555.0199⟧ regarding order A1190.",
 "Tel ⟦PH:+1 (604) 555-0147⟧, ⟦L:Vancouver⟧ office.",
 "Switchboard ⟦PH:+353 1 234 5678⟧",
]
CARD = [
 "My card number is ⟦CC:4111 1111 1111 1111⟧, expiry 12/28.",
 "Charge it to ⟦CC:5555-5555-5555-4444⟧ please.",
 "Card: ⟦CC:4012888888881881⟧",
 "I paid with my Amex ⟦CC:3782 822463 10005⟧ for order A2330.",
 "The Visa ending in 1111 is fine, full number ⟦CC:4000 0566 5566 5556⟧.",
 "Use card ⟦CC:5105 1051 0510 5100⟧ for the refund of $89.00.",
 "Discover: ⟦CC:6011 1111 1111 1117⟧",
 "Mastercard ⟦CC:2223 0031 2200 3222⟧ was declined twice.",
 "cc=⟦CC:371449635398431⟧ exp 03/27",
 "Please refund to the card ⟦CC:4242-4242-4242-4242⟧.",
 "Card number: ⟦CC:5200 8282 8282 8210⟧, holder ⟦P:Giulia Rossi⟧.",
 "I typed ⟦CC:4917 6100 0000 0000⟧ by mistake, can you remove it?",
]
IBAN = [
 "Please refund to my IBAN ⟦IBAN:DE89 3704 0044 0532 0130 00⟧.",
 "IBAN: ⟦IBAN:GB82WEST12345698765432⟧",
 "Bank details: ⟦IBAN:FR14 2004 1010 0505 0001 3M02 606⟧ (⟦P:Pierre Lefèvre⟧)",
 "Transfer the €59.00 refund to ⟦IBAN:NL91ABNA0417164300⟧.",
 "Mi IBAN es ⟦IBAN:ES91 2100 0418 4502 0005 1332⟧.",
 "IBAN ⟦IBAN:IT60X0542811101000000123456⟧ intestato a ⟦P:Giulia Rossi⟧",
 "Swiss account: ⟦IBAN:CH93 0076 2011 6238 5295 7⟧",
 "Belgian IBAN ⟦IBAN:BE68 5390 0754 7034⟧ for order A3440.",
 "Austrian account ⟦IBAN:AT61 1904 3002 3457 3201⟧",
 "Numer konta: ⟦IBAN:PL61 1090 1014 0000 0712 1981 2874⟧",
 "Refund goes to ⟦IBAN:IE29 AIBK 9311 5212 3456 78⟧ within 5 days.",
 "SE IBAN ⟦IBAN:SE45 5000 0000 0583 9825 7466⟧",
]
IP = [
 "Login from ⟦IP:192.168.1.20⟧ was blocked.",
 "Client IP ⟦IP:203.0.113.45⟧ placed order A4450.",
 "Suspicious requests from ⟦IP:198.51.100.7⟧ and ⟦IP:198.51.100.8⟧.",
 "The checkout came from ⟦IP:2001:db8:85a3::8a2e:370:7334⟧.",
 "IPv6 ⟦IP:fe80::1ff:fe23:4567:890a⟧ seen on the account page.",
 "Last seen at ⟦IP:10.0.0.254⟧ on 2026-11-01.",
 "remote_addr=⟦IP:172.16.254.1⟧ status=200",
 "The fraud check flagged ⟦IP:2001:0db8:0000:0000:0000:ff00:0042:8329⟧.",
 "Request from ⟦IP:8.8.8.8⟧ via VPN.",
 "Session started at ⟦IP:100.64.12.9⟧, user agent Firefox.",
]
SSN = [
 "My SSN is ⟦SSN:536-22-1234⟧.",
 "Social security number: ⟦SSN:219-09-9999⟧",
 "ssn ⟦SSN:401 23 4567⟧ for the credit check",
 "I entered SSN ⟦SSN:078051121⟧ in the tax form by mistake.",
 "For verification: SSN ⟦SSN:345-67-8901⟧, name ⟦P:Sarah Johnson⟧.",
 "Please delete my social security number ⟦SSN:512-44-7731⟧ from the chat.",
 "Tax ID (SSN): ⟦SSN:623-45-1987⟧",
 "SSN on file: ⟦SSN:289-33-4410⟧",
]
ADDRESS = [
 "Ship it to ⟦L:221B Baker Street⟧, ⟦L:London⟧ NW1 6XE.",
 "My address is ⟦L:1600 Amphitheatre Parkway⟧, ⟦L:Mountain View⟧, CA 94043.",
 "New address: ⟦L:Friedrichstraße 123⟧, 10117 ⟦L:Berlin⟧",
 "Livrez à ⟦L:12 rue de Rivoli⟧, 75001 ⟦L:Paris⟧.",
 "Deliver to ⟦L:42 MG Road⟧, ⟦L:Bengaluru⟧ 560001.",
 "I moved to ⟦L:350 Fifth Avenue⟧, ⟦L:New York⟧, NY 10118.",
 "The parcel went to ⟦L:Calle de Alcalá 45⟧, ⟦L:Madrid⟧ instead.",
 "Please use ⟦L:Via del Corso 18⟧, 00186 ⟦L:Rome⟧.",
 "Address: ⟦L:Keizersgracht 123⟧, 1015 CJ ⟦L:Amsterdam⟧",
 "Send it to ⟦L:5 Martin Place⟧, ⟦L:Sydney⟧ NSW 2000.",
 "I live at ⟦L:77 Queen St W⟧, ⟦L:Toronto⟧.",
 "Billing address ⟦L:1 Infinite Loop⟧, ⟦L:Cupertino⟧, ⟦L:California⟧.",
 "The warehouse in Memphis shipped order A5560.",
 "I'm travelling in ⟦L:Japan⟧ until December, please hold the parcel.",
 "We moved from ⟦L:Chicago⟧ to ⟦L:Denver⟧ last month.",
 "Can you deliver to ⟦L:Mumbai⟧? Order A6670.",
]
MIXED = [
 "Hi, I'm ⟦P:Maria Gonzalez⟧ (⟦E:maria.gonzalez@example.com⟧, phone ⟦PH:415-555-0142⟧). Where is order A1001?",
 "⟦P:Ahmed Khan⟧, ⟦E:ahmed.khan@mail.com⟧, card ⟦CC:4111 1111 1111 1111⟧, order A1002 delivered by DHL.",
 "Name: ⟦P:Olga Petrova⟧\nPhone: ⟦PH:+49 30 901820⟧\nIBAN: ⟦IBAN:DE89370400440532013000⟧\nOrder: A7700 (shipped)",
 "Refund $120.00 for A8800 to ⟦P:Kwame Mensah⟧, IBAN ⟦IBAN:GB82 WEST 1234 5698 7654 32⟧.",
 "Order A9900 placed from ⟦IP:203.0.113.99⟧ by ⟦E:dmitri.volkov@yandex.ru⟧, shipped with FedEx on 2026-11-03.",
 "⟦P:Priya⟧ says her SSN ⟦SSN:536-22-1234⟧ was printed on the invoice for A1313!",
 "Contact ⟦P:Hannah Schmidt⟧ at ⟦PH:+49 171 1234567⟧ or ⟦E:h.schmidt@gmx.de⟧ about the returned ⟪PR:Ergo Office Chair⟫.",
]
# ---------------------------------------------------------------- tool results (JSON strings)
TOOL = [js({"order_id": "⟪O:A1001⟫", "customer_id": "⟪C:C1001⟫", "customer": {"name": "⟦P:Maria Gonzalez⟧", "email": "⟦E:maria.gonzalez@example.com⟧",
            "phone": "⟦PH:+1-555-0142⟧"}, "status": "⟪S:shipped⟫", "carrier": "⟪CR:UPS⟫", "total": 42.5, "currency": "USD",
            "placed_at": "⟪D:2026-11-02⟫", "items": [{"sku": "⟪SKU:WM-1⟫", "name": "⟪PR:Wireless Mouse⟫", "qty": 1, "price": 42.5}]}),
        js({"id": "⟪C:C1002⟫", "name": "⟦P:Ahmed Khan⟧", "email": "⟦E:ahmed.khan@mail.com⟧", "tier": "gold", "card": "⟦CC:4111 1111 1111 1111⟧",
            "orders": ["⟪O:A1002⟫", "⟪O:A1005⟫"]}),
        js({"customer_id": "⟪C:C2001⟫", "full_name": "⟦P:Oluwaseun Adeyemi⟧", "phone": "⟦PH:+234 803 123 4567⟧", "city": "⟦L:Lagos⟧"}),
        js({"order_id": "⟪O:A3001⟫", "status": "⟪S:delivered⟫", "carrier": "⟪CR:DHL⟫", "shipping_address": "⟦L:Friedrichstraße 123, 10117 Berlin⟧",
            "recipient": "⟦P:Anna Müller⟧"}),
        js({"order_id": "⟪O:A3002⟫", "status": "⟪S:pending⟫", "payment": {"iban": "⟦IBAN:FR14 2004 1010 0505 0001 3M02 606⟧", "amount": 59.0}}),
        js({"event": "login", "user_id": "⟪C:C3003⟫", "ip": "⟦IP:198.51.100.7⟧", "at": "⟪D:2026-11-01T09:12:00Z⟫"}),
        js({"customer_id": "⟪C:C3004⟫", "contact": {"name": "⟦P:Hiroshi Tanaka⟧", "mobile": "⟦PH:090-1234-5678⟧"}, "tier": "silver"}),
        js({"order_id": "⟪O:A3005⟫", "items": [{"sku": "⟪SKU:HB-22⟫", "name": "⟪PR:Noise Cancelling Headphones⟫", "qty": 1, "price": 199.0},
            {"sku": "⟪SKU:CB-7⟫", "name": "⟪PR:Bamboo Cutting Board⟫", "qty": 2, "price": 24.5}], "status": "⟪S:processing⟫", "carrier": "⟪CR:USPS⟫"}),
        js({"ticket": "T-4821", "message": "Hi, I'm ⟦P:Leila Haddad⟧, please call me on ⟦PH:+961 3 123 456⟧.", "order_id": "⟪O:A3006⟫"}),
        js({"customer_id": "⟪C:C3007⟫", "ssn": "⟦SSN:219-09-9999⟧", "name": "⟦P:James O'Brien⟧"}),
        js({"order_id": "⟪O:A3008⟫", "status": "⟪S:refunded⟫", "refund": {"amount": 19.99, "to_card": "⟦CC:5555 5555 5555 4444⟧"}}),
        js({"customer": "⟦P:Giulia Rossi⟧", "address": "⟦L:Via del Corso 18, 00186 Roma⟧", "order_id": "⟪O:A3009⟫", "carrier": "⟪CR:FedEx⟫"}),
        js({"id": "⟪C:C3010⟫", "first_name": "⟦P:Wei⟧", "last_name": "⟦P:Zhang⟧", "email": "⟦E:wei.zhang@outlook.com⟧"}),
        js({"order_id": "⟪O:A3011⟫", "tracking": "⟪T:1Z999AA10123456784⟫", "carrier": "⟪CR:UPS⟫", "status": "⟪S:shipped⟫", "eta": "⟪D:2026-11-06⟫"}),
        js({"results": [{"customer_id": "⟪C:C3012⟫", "name": "⟦P:Sven Lindqvist⟧", "phone": "⟦PH:+46 8 123 456 78⟧"},
                        {"customer_id": "⟪C:C3013⟫", "name": "⟦P:Ingrid Johansson⟧", "phone": "⟦PH:+47 22 12 34 56⟧"}]}),
        js({"note": "Customer ⟦P:Ravi Iyer⟧ asked to ship to ⟦L:Chennai⟧.", "order_id": "⟪O:A3014⟫"}),
        js({"order_id": "⟪O:A3015⟫", "billing": {"holder": "⟦P:Carlos Hernández⟧", "iban": "⟦IBAN:ES91 2100 0418 4502 0005 1332⟧"}}),
        js({"session": {"client_ip": "⟦IP:2001:db8::1⟧", "customer_id": "⟪C:C3016⟫"}, "cart": [{"name": "⟪PR:USB-C Charger⟫", "qty": 3}]}),
]
# ---------------------------------------------------------------- negatives: business facts only
NEG = [
 "Order A1234 for customer C1001 is shipped via UPS, tracking ⟪T:1Z999AA10123456784⟫.",
 "Your ⟪PR:Wireless Mouse⟫ (⟪SKU:WM-1⟫) shipped on 2026-11-02 with FedEx.",
 "Refund of $42.50 for order A1007 was issued on ⟪D:March 3, 2026⟫.",
 "Status: delivered. Carrier: DHL. Delivered ⟪D:Nov 4⟫ at ⟪D:10:32⟫.",
 "The ⟪PR:Kindle Paperwhite⟫ is back in stock at €139.99.",
 "I ordered 2x ⟪PR:Bamboo Cutting Board⟫ and 1x ⟪PR:Chef's Knife⟫ in order A2044.",
 "USPS tracking ⟪T:9400 1000 0000 0000 0000 00⟫ shows in transit.",
 "FedEx tracking number ⟪T:7489 2374 0193⟫, expected ⟪D:Thursday⟫.",
 "Order A1002 for customer C1002 was delivered by DHL; A1003 is processing, FedEx and USPS next; refund 42.50 on 2026-11-02.",
 "Customer C2044 has 3 open orders: A2045, A2046 and A2047.",
 "Order A3001 total: $1,299.00 (incl. $12.99 shipping).",
 "The ⟪PR:Noise Cancelling Headphones⟫ cost 199.00 USD; the ⟪PR:USB-C Charger⟫ 19.99 USD.",
 "Your order A4100 is pending payment. Please pay within 48 hours.",
 "Order A5200 was cancelled on 2026-10-30 and refunded on 2026-11-01.",
 "We shipped 3 parcels with UPS Ground and 1 with ⟪CR:USPS Priority Mail⟫.",
 "The ⟪PR:Ergo Office Chair⟫ (⟪SKU:EC-300⟫) weighs 18 kg and ships in 2 boxes.",
 "Return label for A6300 created; drop it at any DHL Packstation.",
 "Order A7400: 1 × ⟪PR:Espresso Machine⟫, 2 × ⟪PR:Milk Frother⟫, total €349.00.",
 "Delivery window for A8500 is 2026-11-10 to 2026-11-12.",
 "Can you check whether A9600 and A9601 shipped yet?",
 "The ⟪PR:Standing Desk Pro⟫ is on backorder until ⟪D:January⟫.",
 "Order A1010 was returned; refund of £35.00 issued.",
 "Invoice INV-2026-0042 for order A1011, amount $64.20, status paid.",
 "Order A1012 contains ⟪PR:Merino Wool Socks⟫ (size M) ×3.",
 "Your ⟪PR:Smart Watch Series 5⟫ is covered by a 2-year warranty.",
 "Tier upgrade: customer C1013 moved from silver to gold on 2026-09-01.",
 "Coupon SAVE10 applied to order A1014, discount $10.00.",
 "Order A1015 — 4 items, 2.3 kg, shipped with FedEx Express.",
 "We can't change the carrier of A1016 from UPS to DHL once it has shipped.",
 "Order A1017 will be delivered between 9:00 and 13:00.",
 "The ⟪PR:Trail Running Shoes⟫ in size 42 are out of stock.",
 "Please confirm: cancel order A1018 and keep A1019?",
 "Order A1020 shipped 2026-11-03 16:45 UTC via USPS, ETA 3-5 business days.",
 "Your basket: ⟪PR:Yoga Mat⟫ (€24.90), ⟪PR:Water Bottle⟫ (€12.50).",
 "Status of A1021 changed from processing to shipped.",
 "Customer C1022 requested a refund for the damaged ⟪PR:Ceramic Vase⟫.",
 "Order A1023 is eligible for free returns until 2026-12-15.",
 "The ⟪PR:Cast Iron Skillet⟫ ships from our warehouse in 1-2 days.",
 "Refund request RR-5521 for A1024 approved: $15.75.",
 "Order A1025 contains 12 units of ⟪PR:AA Batteries⟫, unit price $0.99.",
 "Parcel 2 of 3 for order A1026 is delivered.",
 "A1027 and A1028 were merged into one shipment with DHL Express.",
 "The ⟪PR:Air Purifier⟫ filter (⟪SKU:AP-F2⟫) is sold separately for $29.00.",
 "Order A1029 weight 850 g, dimensions 30 × 20 × 10 cm.",
 "Thanks for contacting support! Your ticket number is 48213.",
 "How long does UPS take to deliver within the EU?",
 "Is order A1030 still processing or has it shipped?",
 "I'd like to return the ⟪PR:Leather Wallet⟫ from order A1031.",
 "Order A1032: paid $58.40 by card ending in 4242.",
 "Order A1033 contains the ⟪PR:Herman Miller Aeron Chair⟫, delivered by FedEx Freight.",
 "The ⟪PR:Marshall Stanmore II⟫ speaker in order A1034 arrived without its cable.",
 "Can I swap the ⟪PR:Ray-Ban Wayfarer⟫ in A1035 for the ⟪PR:Ray-Ban Aviator⟫?",
 "Order A1036: ⟪PR:Ninja Air Fryer⟫, 1 unit, $119.99, shipped.",
 "Your ⟪PR:Philips Hue Starter Kit⟫ (order A1037) is out for delivery.",
 "Version 2.3.1 of the shop app fixes the checkout bug from 2026-10-20.",
 "Order A1038 total 2,450.00 INR, 3 items, shipped via DHL.",
 "Restock of ⟪SKU:SKU-88213⟫ expected on 2026-11-20, quantity 500.",
 "Order A1039 placed at 2026-11-04T08:15:00Z, status pending.",
 "The order A1040 was split into shipments SH-1 and SH-2.",
 "Promotion BLACKFRIDAY25 gives 25% off ⟪PR:Winter Jackets⟫ until 2026-11-30.",
]
NEG_TOOL = [
 js({"order_id": "⟪O:A4001⟫", "status": "⟪S:processing⟫", "carrier": "⟪CR:USPS⟫", "eta": "⟪D:2026-11-05⟫", "total": 129.99, "currency": "EUR",
     "items": [{"sku": "⟪SKU:HB-22⟫", "name": "⟪PR:Noise Cancelling Headphones⟫", "qty": 1}]}),
 js({"orders": [{"order_id": "⟪O:A4002⟫", "status": "⟪S:delivered⟫"}, {"order_id": "⟪O:A4003⟫", "status": "⟪S:cancelled⟫"}], "customer_id": "⟪C:C4000⟫"}),
 js({"order_id": "⟪O:A4004⟫", "tracking_number": "⟪T:7489 2374 0193⟫", "carrier": "⟪CR:FedEx⟫", "shipped_at": "⟪D:2026-11-02⟫"}),
 js({"sku": "⟪SKU:EC-300⟫", "title": "⟪PR:Ergo Office Chair⟫", "price": 249.0, "stock": 12, "category": "Furniture"}),
 js({"refund_id": "R-9921", "order_id": "⟪O:A4005⟫", "amount": 42.5, "currency": "USD", "status": "⟪S:refunded⟫"}),
 js({"order_id": "⟪O:A4006⟫", "items": [{"name": "⟪PR:Kindle Paperwhite⟫", "qty": 1, "price": 139.99}, {"name": "⟪PR:Marshall Stanmore II⟫", "qty": 1, "price": 379.0}]}),
 js({"error": "order not found", "order_id": "⟪O:A4007⟫"}),
 js({"customer_id": "⟪C:C4008⟫", "tier": "gold", "orders": ["⟪O:A4008⟫", "⟪O:A4009⟫"], "lifetime_value": 1832.4}),
 js({"order_id": "⟪O:A4010⟫", "status": "⟪S:shipped⟫", "carrier": "⟪CR:DHL⟫", "tracking": "⟪T:JD014600006281230721⟫", "weight_kg": 2.4}),
 js({"product": {"sku": "⟪SKU:NF-1⟫", "name": "⟪PR:Ninja Air Fryer⟫", "price": 119.99}, "in_stock": True}),
]

# ---------------------------------------------------------------- holdout: written after the recognizers were tuned, never tuned on
HOLDOUT = [
 "Good afternoon, my name's ⟦P:Bartholomew Achterberg⟧ and I need to change order A5901.",
 "⟦P:Chiamaka Obi⟧ called twice today about the late delivery.",
 "Hello, is this the right place to ask about order A5902? – ⟦P:Tobias Reinhardt⟧",
 "Our customer ⟦P:Xiao Ming Liu⟧ wants the refund to go to her original card.",
 "Thanks so much, ⟦P:Pooja⟧! The ⟪PR:Desk Lamp⟫ arrived today.",
 "hi its ⟦P:marcus⟧ again, still waiting on A5903",
 "I'm writing on behalf of my mother, ⟦P:Esperanza Villanueva⟧.",
 "The courier handed the box to my neighbour ⟦P:Dermot Flanagan⟧.",
 "Kind regards,\n⟦P:Anneliese Vogt⟧\n⟦L:Munich⟧",
 "Can ⟦P:Yasmin⟧ pick up the parcel for me at the DHL point?",
 "Please send all updates to ⟦E:yasmin.k@icloud.com⟧ and ⟦E:Y.Karimi@uni-heidelberg.de⟧.",
 "email me: ⟦E:tomasz.wojcik@wp.pl⟧",
 "Reply-To: ⟦E:no.reply.but.me@fastmail.fm⟧",
 "Ring me on ⟦PH:0161 496 0000⟧ (landline) or ⟦PH:+44 7911 123456⟧.",
 "Telefon: ⟦PH:+49 221 12345678⟧",
 "my mobile ⟦PH:+1 (917) 555-0123⟧ – text only please",
 "Portable : ⟦PH:07 81 23 45 67⟧",
 "Call ⟦PH:+91 80 4567 8901⟧ (Bengaluru office) for the bulk order.",
 "Number: ⟦PH:+27 21 123 4567⟧",
 "Tel. ⟦PH:+43 1 234 56 78⟧ – ⟦L:Vienna⟧",
 "I used the Visa ⟦CC:4532 0151 1283 0366⟧ for order A5904.",
 "card no ⟦CC:5425-2334-3010-9903⟧ exp 09/29 cvv removed",
 "Amex ⟦CC:3714 496353 98431⟧ please refund there",
 "Konto: ⟦IBAN:DE44 5001 0517 5407 3249 31⟧, Inhaber ⟦P:Jürgen Becker⟧",
 "Please wire to ⟦IBAN:FR76 3000 6000 0112 3456 7890 189⟧.",
 "My Dutch account ⟦IBAN:NL02ABNA0123456789⟧ for the €45.00 refund.",
 "The request came from ⟦IP:81.2.69.142⟧ (geo: ⟦L:Manchester⟧).",
 "Blocked ⟦IP:2a00:1450:4001:82b::200e⟧ after 5 failed logins.",
 "SSN: ⟦SSN:472-81-3390⟧ (please don't store it)",
 "my social is ⟦SSN:308 62 9914⟧",
 "Deliver to ⟦L:10 Downing Street⟧, ⟦L:London⟧ SW1A 2AA.",
 "Adresse: ⟦L:Hauptstraße 5⟧, 69117 ⟦L:Heidelberg⟧",
 "My new place is ⟦L:88 Collins Street⟧, ⟦L:Melbourne⟧ VIC 3000.",
 "Envoyez-le au ⟦L:8 avenue des Champs-Élysées⟧, 75008 ⟦L:Paris⟧.",
 "Mi dirección: ⟦L:Avenida de Mayo 1370⟧, ⟦L:Buenos Aires⟧.",
 "I'm visiting family in ⟦L:Nairobi⟧ next week, can you hold A5905?",
 "We relocated to ⟦L:Singapore⟧ – please update the shipping country.",
 "Hi ⟦P:Gabriel⟧, order A5906 is delivered; the ⟪PR:Coffee Grinder⟫ is in parcel 2.",
 "⟦P:Yusuf Demir⟧ <⟦E:yusuf.demir@gmail.com⟧> wrote: card ⟦CC:4111-1111-1111-1111⟧ was charged twice for A5907.",
]
HOLDOUT_TOOL = [
 js({"customer_id": "⟪C:C5901⟫", "name": "⟦P:Ifeoma Nwosu⟧", "email": "⟦E:ifeoma.nwosu@outlook.com⟧", "phone": "⟦PH:+44 20 7123 4567⟧", "tier": "bronze"}),
 js({"order_id": "⟪O:A5908⟫", "status": "⟪S:shipped⟫", "carrier": "⟪CR:FedEx⟫", "ship_to": {"name": "⟦P:Rafael Costa⟧", "address": "⟦L:Rua Augusta 1500, São Paulo⟧"}}),
 js({"payment": {"method": "card", "card_number": "⟦CC:5425 2334 3010 9903⟧", "cardholder": "⟦P:Noor Hassan⟧"}, "order_id": "⟪O:A5909⟫", "amount": 74.0}),
 js({"audit": [{"ip_address": "⟦IP:203.0.113.200⟧", "action": "password_reset"}, {"ip_address": "⟦IP:198.51.100.23⟧", "action": "login"}], "customer_id": "⟪C:C5910⟫"}),
]
HOLDOUT_NEG = [
 "Order A5911 (2 × ⟪PR:Linen Duvet Cover⟫, 1 × ⟪PR:Pillow Case Set⟫) shipped via UPS on 2026-11-07.",
 "Your return for A5912 was received; refund $23.40 in 3-5 days.",
 "Is the ⟪PR:Canon EOS R50⟫ compatible with the ⟪PR:RF 50mm lens⟫?",
 "Order A5913 is pending because the ⟪PR:Dyson V15⟫ is out of stock.",
 "DHL says parcel JVGL0612345 for A5914 is delivered to the Packstation.",
 "The ⟪PR:Le Creuset Dutch Oven⟫ in order A5915 is a gift, please remove the price.",
 "Customer C5916 upgraded to gold after order A5917 (€512.00).",
 "USPS Priority Mail 2-Day, tracking ⟪T:9405 5112 9837 4400 1234 56⟫, status in transit.",
 "Order A5918 weighs 3.2 kg; FedEx Ground ETA 2026-11-09.",
 "Can you split order A5919 into two shipments, the ⟪PR:Patagonia Fleece⟫ first?",
 "Coupon WELCOME15 doesn't work on order A5920.",
 "Batch 2026-11-08-03 of order exports contains 1,204 rows.",
 "Order A5921 paid with PayPal, 89.90 EUR, status processing.",
 "Refund ID RF-77821 for A5922 approved on 2026-11-10.",
 "The ⟪PR:Jordan Retro 4⟫ sneakers in A5923 are size 44.",
 "Please confirm the ⟪PR:Samsung Galaxy Buds⟫ in order A5924 are the black ones.",
 js({"order_id": "⟪O:A5925⟫", "status": "⟪S:cancelled⟫", "reason": "out of stock", "items": [{"sku": "⟪SKU:DV-15⟫", "name": "⟪PR:Dyson V15⟫", "qty": 1}]}),
 js({"shipment": {"carrier": "⟪CR:UPS⟫", "tracking": "⟪T:1Z12345E0205271688⟫", "status": "⟪S:delivered⟫", "delivered_at": "⟪D:2026-11-08T14:03:00Z⟫"}, "order_id": "⟪O:A5926⟫"}),
]

def main():
    cases = ([parse(t, "chat") for t in CHAT] + [parse(t, "email") for t in EMAIL] + [parse(t, "phone") for t in PHONE]
             + [parse(t, "card") for t in CARD] + [parse(t, "iban") for t in IBAN] + [parse(t, "ip") for t in IP]
             + [parse(t, "ssn") for t in SSN] + [parse(t, "address") for t in ADDRESS] + [parse(t, "mixed") for t in MIXED]
             + [parse(t, "tool") for t in TOOL] + [parse(t, "business") for t in NEG] + [parse(t, "business_tool") for t in NEG_TOOL])
    for c in cases: c["split"] = "dev"
    hold = ([parse(t, "holdout_text") for t in HOLDOUT] + [parse(t, "holdout_tool") for t in HOLDOUT_TOOL]
            + [parse(t, "holdout_business") for t in HOLDOUT_NEG])
    for c in hold: c["split"] = "holdout"
    cases += hold
    out = Path("data/pii_eval.jsonl"); out.parent.mkdir(exist_ok=True)
    with out.open("w") as f:
        for i, c in enumerate(cases): f.write(json.dumps({"id": f"pii-{i:03d}", **c}, ensure_ascii=False) + "\n")
    print(len(cases), "cases,", sum(len(c["entities"]) for c in cases), "PII spans,", sum(len(c["keep"]) for c in cases), "business facts")

if __name__ == "__main__": main()
