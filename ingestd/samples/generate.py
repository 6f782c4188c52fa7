"""Write the demo's sample complaints (`ingestd/samples/mail/*.eml`), deterministically.

The organisation is fictional: 华东物流零售 / Huadong Logistics & Retail, complaint desk
complaints@ingestd.example. Every address is under a reserved example domain and every phone number is
fictional. Run `python -m ingestd.samples.generate` to rewrite the files; the test suite checks that the
committed files equal what this script writes.
"""

from __future__ import annotations

import base64
import struct
import sys
import zlib
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

OUT = Path(__file__).parent / "mail"
DESK = "complaints@ingestd.example"
T0 = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)


def when(n: int) -> str:
    return format_datetime(T0 + timedelta(days=n * 1.3, hours=n % 7))


def mid(n: int) -> str:
    return f"<sample-{n:02d}@mail.example.com>"


def png() -> bytes:
    """A tiny valid PNG (8x8, a grey square): the 'photo of the damage'."""
    raw = b"".join(b"\x00" + bytes([128, 128, 128]) * 8 for _ in range(8))
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pdf() -> bytes:
    """A small valid one-page PDF: the 'receipt'."""
    stream = b"BT /F1 12 Tf 50 750 Td (Receipt HD-2026-10-8812  Total 1,299.00 CNY) Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def simple(n: int, sender: tuple[str, str], subject: str, body: str, *, charset: str = "utf-8",
           cte: str | None = None, extra: dict[str, str] | None = None, reply_to_n: int | None = None,
           references: list[int] | None = None) -> Message:
    msg = MIMEText(body, "plain", charset)
    if cte == "qp" and charset == "utf-8":
        from email.charset import QP, Charset

        cs = Charset("utf-8")
        cs.body_encoding = QP
        msg = MIMEText(body, "plain", cs)
    _head(msg, n, sender, subject, charset, extra, reply_to_n, references)
    return msg


def _head(msg: Message, n: int, sender: tuple[str, str], subject: str, charset: str = "utf-8",
          extra: dict[str, str] | None = None, reply_to_n: int | None = None,
          references: list[int] | None = None) -> None:
    name, addr = sender
    hcs = charset if charset not in ("iso-8859-1", "us-ascii") else "utf-8"
    msg["From"] = formataddr((str(Header(name, hcs)) if name else "", addr)) if name else addr
    msg["To"] = DESK
    msg["Subject"] = Header(subject, hcs).encode() if any(ord(c) > 127 for c in subject) else subject
    msg["Date"] = when(n)
    msg["Message-ID"] = mid(n)
    msg["MIME-Version"] = "1.0"
    if reply_to_n is not None:
        msg["In-Reply-To"] = mid(reply_to_n)
    if references:
        msg["References"] = " ".join(mid(r) for r in references)
    for key, value in (extra or {}).items():
        msg[key] = value


def raw_gbk_mislabelled(n: int) -> bytes:
    """Declared gb2312, but 镕 and 珺 are only in GBK: the bytes a real Chinese mail client sends."""
    body = ("你好：\n我是王珺，10月25日在贵公司南京路门店购买的电饭煲（订单号 HD2026102577）使用三天就无法加热。\n"
            "联系门店朱镕经理，对方称只能寄回厂家检测，需要等待一个月。\n"
            "要求立即更换新机或全额退款。\n"
            "电话：13912345678\n地址：上海市黄浦区南京东路100号\n王珺\n").encode("gbk")
    subject = "=?gb2312?B?" + base64.b64encode("产品质量问题：电饭煲无法加热（王珺）".encode("gbk")).decode() + "?="
    head = (f"From: =?gb2312?B?{base64.b64encode('王珺'.encode('gbk')).decode()}?= <wang.jun@example.net>\r\n"
            f"To: {DESK}\r\nSubject: {subject}\r\nDate: {when(n)}\r\nMessage-ID: {mid(n)}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return head.encode() + body.replace(b"\n", b"\r\n")


def raw_8bit_header(n: int) -> bytes:
    """Raw UTF-8 bytes in the headers, no encoded words: common from badly configured servers."""
    head = (f"From: 赵敏 <zhao.min@example.org>\r\nTo: {DESK}\r\nSubject: 维修未完成：楼道灯坏了两个月\r\n"
            f"Date: {when(n)}\r\nMessage-ID: {mid(n)}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    body = ("物业你好，\r\n我住在浦东新区锦绣路88弄5号楼，楼道灯坏了两个月，报修三次（工单 WX-20260912-031）一直没人来修。\r\n"
            "老人晚上摔倒过一次。请尽快安排维修并给出说明。\r\n赵敏 13700001234\r\n")
    return head.encode() + body.encode()


def broken_boundary(n: int) -> bytes:
    """A multipart whose closing boundary never comes, and a part header that is garbage."""
    return (f"From: Broken Client <broken@example.com>\r\nTo: {DESK}\r\nSubject: Complaint about late refund\r\n"
            f"Date: {when(n)}\r\nMessage-ID: {mid(n)}\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="XYZ-never-closed"\r\n\r\n'
            "--XYZ-never-closed\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "I returned the vacuum cleaner (order HD-77120) on 3 October and I am still waiting for the refund.\r\n"
            "Please refund the 899 CNY now.\r\n--XYZ-never-closed\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n").encode()


def with_attachments(n: int) -> Message:
    outer = MIMEMultipart("mixed")
    _head(outer, n, ("李娜", "li.na@example.com"), "货物破损：冰箱门凹陷，附照片和收据")
    outer.attach(MIMEText(
        "您好，\n11月2日收到配送的冰箱（运单号 SF1098765432），外箱完好但冰箱门明显凹陷，见附件照片。\n"
        "收据也附上了。要求更换新冰箱，并赔偿我请假两天的误工损失。\n\n"
        "李娜\n电话：021-61234567 / 13600001111\n地址：上海市徐汇区漕溪北路200号3室\n", "plain", "utf-8"))
    photo = MIMEBase("image", "png")
    photo.set_payload(png())
    from email import encoders

    encoders.encode_base64(photo)
    photo.add_header("Content-Disposition", "attachment", filename="冰箱门.png")
    outer.attach(photo)
    receipt = MIMEBase("application", "pdf")
    receipt.set_payload(pdf())
    encoders.encode_base64(receipt)
    receipt.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "收据-HD20261008812.pdf"))
    outer.attach(receipt)
    return outer


def html_only(n: int) -> Message:
    msg = MIMEText(
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        "<p>To whom it may concern,</p><p>Your driver threw my parcel (tracking <b>HD8812345</b>) over the gate "
        "and it landed in the rain. The laptop inside no longer starts.</p>"
        "<p>I expect a <i>full refund</i> of 6,499 CNY and an apology.</p>"
        "<p>Regards,<br>Michael Brown<br>+44 20 7946 0958</p></body></html>", "html", "utf-8")
    _head(msg, n, ("Michael Brown", "m.brown@example.co.uk"), "Parcel thrown over the gate - laptop damaged")
    return msg


def alternative(n: int) -> Message:
    outer = MIMEMultipart("alternative")
    _head(outer, n, ("Sarah Chen", "sarah.chen@example.com"), "Charged twice for the same order")
    text = ("Hello,\n\nMy card was charged twice (2 x 1,299.00 CNY) for order HD-2026-10-8812 on 28 October.\n"
            "Please refund the duplicate charge and confirm in writing.\n\nSarah Chen\nPhone: 13500002222\n")
    outer.attach(MIMEText(text, "plain", "utf-8"))
    outer.attach(MIMEText("<p>" + text.replace("\n", "<br>") + "</p>", "html", "utf-8"))
    return outer


def forwarded(n: int) -> Message:
    inner = simple(90, ("周杰", "zhou.jie@example.net"), "门店员工态度恶劣",
                   "你好，10月30日我在贵公司虹桥门店退货时，店员不但拒绝办理，还当众辱骂我。\n"
                   "我要求公司调查此事，处理该员工并向我书面道歉。\n周杰\n手机：13811112222\n")
    outer = MIMEMultipart("mixed")
    _head(outer, n, ("Front Desk", "frontdesk@huadong.example"), "Fwd: 门店员工态度恶劣")
    outer.attach(MIMEText("转给投诉组处理，顾客来信见附件。\n", "plain", "utf-8"))
    part = MIMEBase("message", "rfc822")
    part.set_payload([inner])
    outer.attach(part)
    return outer


def bounce(n: int) -> Message:
    outer = MIMEMultipart("report", report_type="delivery-status")
    _head(outer, n, ("Mail Delivery System", "MAILER-DAEMON@mx.example"), "Undelivered Mail Returned to Sender")
    outer.attach(MIMEText("This is the mail system at host mx.example.\n\nI'm sorry to have to inform you that "
                          "your message could not be delivered.\n<nobody@example.org>: user unknown\n", "plain"))
    status = MIMEBase("message", "delivery-status")
    from email import message_from_string

    status.set_payload([message_from_string("Reporting-MTA: dns; mx.example\n"),
                        message_from_string("Final-Recipient: rfc822; nobody@example.org\nAction: failed\n"
                                            "Status: 5.1.1\n")])
    outer.attach(status)
    returned = MIMEBase("text", "rfc822-headers")
    returned.set_payload(f"From: {DESK}\nTo: nobody@example.org\nSubject: [TS-202610-00099] received\n"
                         "Message-ID: <ack-unknown@ingestd.example>\n")
    outer.attach(returned)
    return outer


def _fix_boundaries(msg: Message, name: str) -> None:
    """Deterministic boundaries, so that regenerating gives byte-identical files."""
    for i, part in enumerate(msg.walk()):
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            part.set_boundary(f"=_{name.split('-')[0]}_{i}_sample")


def build() -> dict[str, bytes]:
    m: dict[str, Message | bytes] = {}
    m["01-delivery-delay-zh.eml"] = simple(
        1, ("张伟", "zhang.wei@example.com"), "投诉：快递延误十天仍未送达",
        "你好，\n我在10月10日下单（订单号 HD2026101001，运单号 SF1234567890），承诺3天送达，至今已经十天仍未收到。\n"
        "客服电话打了五次都说在查。要求尽快送达并赔偿运费，否则取消订单全额退款。\n\n"
        "姓名：张伟\n电话：13800138000\n地址：上海市浦东新区世纪大道1号\n\n-- \n张伟\n发自我的iPhone\n", cte="qp")
    m["02-delivery-delay-en.eml"] = simple(
        2, ("Emma Wilson", "emma.wilson@example.org"), "Delivery two weeks late",
        "Dear Sir or Madam,\n\nI ordered a sofa (order HD-2026-10-0412) on 6 October with delivery promised for "
        "13 October. It has still not arrived and nobody answers the phone.\n\nI would like a firm delivery date "
        "and compensation for the two days I took off work.\n\nYours sincerely,\nEmma Wilson\n+86 21 6123 4567\n",
        charset="iso-8859-1")
    m["03-damaged-goods-attachments.eml"] = with_attachments(3)
    m["04-billing-double-charge.eml"] = alternative(4)
    m["05-rude-staff-gb2312.eml"] = simple(
        5, ("刘洋", "liu.yang@example.com"), "服务态度差：客服挂我电话",
        "你们的客服工号 0231 在我询问退款进度时态度恶劣，两次直接挂断电话。\n"
        "希望贵司核实录音，对该客服进行处理并向我道歉。\n联系人：刘洋  电话：13600006666\n", charset="gb2312")
    m["06-product-defect-gbk-mislabelled.eml"] = raw_gbk_mislabelled(6)
    m["07-repairs-not-done-8bit-headers.eml"] = raw_8bit_header(7)
    m["08-privacy-breach-gb18030.eml"] = simple(
        8, ("孙丽", "sun.li@example.cn"), "个人信息泄露：下单后接到大量骚扰电话",
        "我于10月18日在贵公司网店下单后，第二天起每天接到十几个推销电话，对方能准确说出我的姓名、地址和购买的商品。\n"
        "怀疑贵公司泄露了我的个人信息。要求贵司调查泄露原因，书面说明处理结果。\n孙丽 13300003333\n",
        charset="gb18030")
    m["09-big5-traditional.eml"] = simple(
        9, ("陳大文", "chan.taiman@example.hk"), "投訴：包裹損壞，客服態度惡劣",
        "你好，我在10月22日收到的包裹外箱嚴重損壞，裡面的玻璃花瓶已經破碎。\n"
        "致電客服，對方態度惡劣，說不關他們的事。要求全額退款並道歉。\n陳大文\n電話：+852 2123 4567\n",
        charset="big5")
    m["10-html-only-with-script.eml"] = html_only(10)
    m["11-forwarded-by-front-desk.eml"] = forwarded(11)
    m["12-reply-adds-information.eml"] = simple(
        12, ("张伟", "zhang.wei@example.com"), "Re: 投诉：快递延误十天仍未送达",
        "补充一下：今天快递员打电话说包裹在转运中心丢失了。请给出处理方案。\n\n"
        "在 2026年10月20日 09:00，张伟 <zhang.wei@example.com> 写道：\n> 你好，\n> 我在10月10日下单……\n",
        reply_to_n=1, references=[1])
    m["13-references-only-follow-up.eml"] = simple(
        13, ("Sarah Chen", "sarah.chen@example.com"), "Re: Charged twice for the same order",
        "Attaching my bank statement reference: TXN 88120045. Still no refund.\n\nOn Wed, 28 Oct 2026, Sarah Chen "
        "wrote:\n> My card was charged twice\n", references=[4])
    m["14-media-threat.eml"] = simple(
        14, ("黄磊", "huang.lei@example.com"), "再不处理我就向媒体曝光",
        "我购买的空调（订单 HD2026100733）安装后漏水，泡坏了楼下邻居的天花板。投诉三次无人处理。\n"
        "如果三天内不解决，我将向电视台和媒体曝光，并在网上发布视频。要求赔偿邻居损失并更换空调。\n黄磊 13900009999\n")
    m["15-injury.eml"] = simple(
        15, ("Daniel Park", "daniel.park@example.com"), "Injured by a falling shelf in your store",
        "On 1 November a shelf collapsed in your Xujiahui store and cut my arm; I needed six stitches.\n"
        "I expect you to pay my hospital bills and compensation.\n\nDaniel Park\nPhone: 13700007777\n")
    m["16-lawsuit-compensation.eml"] = simple(
        16, ("吴敏", "wu.min@example.com"), "律师函：要求赔偿5万元",
        "因贵公司配送员损坏我家中红木家具，我已委托律师。要求赔偿人民币5万元，\n"
        "否则将向法院起诉。请于7日内书面答复。\n吴敏\n电话：010-87654321\n地址：北京市朝阳区建国路88号\n")
    m["17-auto-reply.eml"] = simple(
        17, ("Out of Office", "emma.wilson@example.org"), "Automatic reply: Delivery two weeks late",
        "I am out of the office until 10 November with limited access to email.\n",
        extra={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}, reply_to_n=2)
    m["18-newsletter-bulk.eml"] = simple(
        18, ("Deals Weekly", "news@deals.example"), "This week's deals: 50% off",
        "Our best deals this week. Unsubscribe at any time.\n",
        extra={"Precedence": "bulk", "List-Id": "<deals.deals.example>",
               "List-Unsubscribe": "<mailto:unsubscribe@deals.example>"})
    m["19-bounce.eml"] = bounce(19)
    m["20-anonymous.eml"] = simple(
        20, ("", "a7f3k@example.net"), "匿名投诉：仓库员工违规吸烟",
        "匿名投诉：贵公司嘉定仓库的员工经常在货架旁吸烟，存在严重火灾隐患。请立即整改。\n")
    m["21-no-from.eml"] = _no_from(21)
    m["22-broken-boundary.eml"] = broken_boundary(22)
    m["23-english-defect-signature.eml"] = simple(
        23, ("Olivia Martin", "olivia.martin@example.com"), "Kettle stopped working after a week",
        "Hi,\n\nThe electric kettle I bought (order HD-2026-11-0021) stopped working after a week. Please replace "
        "it.\n\nThanks,\nOlivia Martin\n\n-- \nOlivia Martin | Product Designer | Example Studio\n"
        "Sent from my iPhone\n")
    m["24-not-an-email.eml"] = ("order_id,customer,amount\nHD2026101001,张伟,1299.00\n"
                                "HD2026101002,李娜,899.00\n").encode()
    m["25-billing-en-qp.eml"] = simple(
        25, ("James O'Neil", "james.oneil@example.ie"), "Wrong invoice amount — overcharged",
        "Dear team,\n\nInvoice INV-2026-10-5531 says 2,450.00 CNY but the agreed price was 1,950.00 CNY.\n"
        "Please issue a corrected invoice and refund the difference.\n\nKind regards,\nJames O'Neil\n", cte="qp")
    for name, v in m.items():
        if not isinstance(v, bytes):
            _fix_boundaries(v, name)
    return {name: (v if isinstance(v, bytes) else v.as_bytes()) for name, v in m.items()}


def _no_from(n: int) -> Message:
    msg = EmailMessage()
    msg["To"] = DESK
    msg["Subject"] = "投诉 电梯经常停运"
    msg["Date"] = when(n)
    msg["Message-ID"] = mid(n)
    msg.set_content("小区3号楼电梯一周停运三次，物业没有任何通知。老人上下楼非常困难，要求尽快维修。\n")
    return msg


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
