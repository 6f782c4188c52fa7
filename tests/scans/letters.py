"""Scanned complaint letters written by the project: text rendered with a CJK font (Pillow), then degraded
like a real scan (tilt, blur, noise, grey paper, JPEG). Seeded and deterministic.

Used by the tests, by `bench/ocr_bench.py` and to make the two demo samples in `ingestd/samples/letters/`.
Also hand-written PDFs: one with a text layer (no OCR needed), a password-protected one, a corrupt one,
and a decompression-bomb PNG.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏建国志文斌宇浩凯晨欣怡佳琳雪梅海波"
EN_FIRST = ["James", "Mary", "Robert", "Linda", "Michael", "Sarah", "David", "Emma", "Daniel", "Grace", "Peter",
            "Helen", "Thomas", "Laura", "Andrew", "Alice"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "Walker", "Wright", "Green", "Hughes",
           "Edwards", "Turner", "Parker", "Collins"]
CITIES = [("北京市", "朝阳区", "建国路"), ("上海市", "浦东新区", "世纪大道"), ("广东省广州市", "天河区", "体育西路"),
          ("浙江省杭州市", "西湖区", "文三路"), ("四川省成都市", "武侯区", "人民南路"), ("湖北省武汉市", "洪山区", "珞喻路"),
          ("江苏省南京市", "鼓楼区", "中山北路"), ("广东省深圳市", "南山区", "科技园路")]
COMPANIES = ["顺达快递", "华信电信", "美家家电", "优选商城", "安心物业", "天天网购"]
TOPICS = [("快递延误", "快递", "包裹一直没有送到，物流信息十多天没有更新"),
          ("商品质量", "网上商城", "收到的电饭煲无法加热，使用第二天就坏了"),
          ("重复扣费", "营业厅", "同一笔话费被扣了两次，客服一直没有处理"),
          ("售后服务", "门店", "空调安装后漏水，预约维修三次都没有人上门"),
          ("物业管理", "小区", "电梯停运一周无人维修，老人上下楼非常困难")]
EN_TOPICS = [("late delivery", "my parcel has not arrived and the tracking has not changed for ten days"),
             ("a faulty product", "the rice cooker I received stopped heating on the second day"),
             ("a double charge", "my card was charged twice for the same bill and nobody has replied"),
             ("poor after-sales service", "the air conditioner leaks and three repair visits never happened")]
ZH_BODY = ["我多次拨打客服电话，每次都说会尽快处理，但至今没有任何结果。",
           "这件事给我的工作和生活带来了很大的不便，也让我对贵公司的服务非常失望。",
           "希望贵公司认真核实情况，给我一个明确的答复。",
           "我已经保留了相关的单据和照片，如有需要可以提供。",
           "请在收到本信后十五日内与我联系，否则我将向消费者协会反映。"]
ZH_DEMANDS = ["要求全额退款并赔偿相应损失。", "要求尽快安排维修或更换新品。", "要求退还多扣的费用并书面道歉。"]
EN_BODY = ["I have called your service line several times and was promised a reply each time, but nothing happened.",
           "This has caused me a great deal of inconvenience and I am very disappointed with your service.",
           "I have kept the receipts and photographs and can provide copies if needed.",
           "Please contact me within fifteen days of receiving this letter."]
EN_DEMANDS = ["I ask for a full refund and compensation for my costs.", "I ask you to repair or replace the item.",
              "I ask you to refund the extra charge and explain what went wrong."]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

FONT_CANDIDATES = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # fonts-noto-cjk, index 2 = Simplified Chinese
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
]


@cache
def cjk_font() -> tuple[str, int] | None:
    """A CJK font installed by a Debian package (fonts-noto-cjk or fonts-wqy-zenhei), with its face index."""
    for path, index in FONT_CANDIDATES:
        if Path(path).exists():
            return path, index
    try:
        out = subprocess.run(["fc-list", ":lang=zh-cn", "file", "index"], capture_output=True, text=True,
                             timeout=10).stdout
    except OSError:
        return None
    for line in sorted(out.splitlines()):
        path, _, rest = line.partition(":")
        if path.endswith((".ttc", ".ttf", ".otf")):
            index = int(rest.split("=")[-1]) if "index=" in rest else 0
            return path.strip(), index
    return None


@dataclass
class Letter:
    """A letter's text and the facts a reader should find in it (the truth the OCR is measured against)."""

    seed: int
    lang: str
    title: str
    lines: list[str]  # the letter as written, one entry per paragraph (wrapped when rendered)
    name: str
    phone: str  # E.164
    letter_date: str  # ISO
    event_date: str  # ISO
    order_no: str
    address: str | None = None
    email: str | None = None
    pages: int = 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _zh_date(rng: random.Random, y: int, m: int, d: int) -> str:
    return rng.choice([f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}年{m:02d}月{d:02d}日", f"{y}/{m}/{d}"])


def _en_date(rng: random.Random, y: int, m: int, d: int) -> str:
    return rng.choice([f"{d} {MONTHS[m - 1]} {y}", f"{MONTHS[m - 1]} {d}, {y}", f"{y}-{m:02d}-{d:02d}"])


def _mobile(rng: random.Random) -> tuple[str, str]:
    digits = rng.choice(["138", "139", "136", "150", "152", "186", "188", "135", "177", "199"]) + \
        "".join(rng.choice("0123456789") for _ in range(8))
    shown = rng.choice([digits, f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"])
    return shown, "+86" + digits


def _landline(rng: random.Random) -> tuple[str, str]:
    area, local = rng.choice([("010", 8), ("021", 8), ("020", 8), ("0571", 8), ("028", 8)])
    number = rng.choice("2345678") + "".join(rng.choice("0123456789") for _ in range(local - 1))
    return rng.choice([f"{area}-{number}", f"({area}){number}"]), f"+86{area[1:]}{number}"


def make_letter(seed: int, lang: str = "zh", *, pages: int = 1) -> Letter:
    """One complaint letter; `pages` > 1 repeats body paragraphs so the text fills that many pages."""
    rng = random.Random(seed)
    y = 2026
    event = date(y, rng.randint(1, 9), rng.randint(1, 28))
    written = event + timedelta(days=rng.randint(3, 60))
    em, ed, lm, ld = event.month, event.day, written.month, written.day
    event_iso, letter_iso = event.isoformat(), written.isoformat()
    phone_shown, phone = _mobile(rng) if rng.random() < 0.8 else _landline(rng)
    order = rng.choice(["DD", "SF", "JD", "HX"]) + "".join(rng.choice("0123456789") for _ in range(10))
    extra = max(0, pages - 1) * 26
    if lang == "zh":
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        province, district, road = rng.choice(CITIES)
        address = f"{province}{district}{road}{rng.randint(1, 300)}号{rng.randint(1, 20)}栋{rng.randint(101, 2505)}室"
        topic, where, problem = rng.choice(TOPICS)
        company = rng.choice(COMPANIES)
        title = f"关于{topic}问题的投诉信"
        body = [rng.choice(ZH_BODY) for _ in range(2 + extra)]
        signed = rng.random() < 0.5
        lines = [title, f"尊敬的{company}客服部：",
                 f"　　本人{name}，于{_zh_date(rng, y, em, ed)}在贵公司{where}办理业务，订单号：{order}。{problem}。",
                 *[f"　　{b}" for b in body], f"　　{rng.choice(ZH_DEMANDS)}",
                 f"　　联系电话：{phone_shown}", f"　　通讯地址：{address}", "此致", "敬礼",
                 f"投诉人：{name}" if signed else name, _zh_date(rng, y, lm, ld)]
        return Letter(seed, lang, title, lines, name, phone, letter_iso, event_iso, order, address=address, pages=pages)
    name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
    topic, problem = rng.choice(EN_TOPICS)
    email = f"{name.split()[0].lower()}.{name.split()[1].lower()}{rng.randint(1, 99)}@example.com"
    title = f"Complaint about {topic}"
    body = [rng.choice(EN_BODY) for _ in range(1 + extra)]
    address = f"{rng.randint(1, 200)} {rng.choice(['Nanjing Road', 'Huaihai Road', 'Century Avenue'])}, Shanghai"
    lines = [title, "Dear Customer Service,",
             f"I am writing about order {order}, placed on {_en_date(rng, y, em, ed)}: {problem}.",
             *body, rng.choice(EN_DEMANDS), f"Phone: {phone_shown}", f"Email: {email}", f"Address: {address}",
             "Yours sincerely,", name, _en_date(rng, y, lm, ld)]
    return Letter(seed, lang, title, lines, name, phone, letter_iso, event_iso, order, address=address, email=email,
                  pages=pages)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    if not text:
        return [""]
    out, current = [], ""
    tokens = text.split(" ") if text.isascii() else list(text)
    sep = " " if text.isascii() else ""
    for token in tokens:
        trial = f"{current}{sep}{token}" if current else token
        if font.getlength(trial) <= width:
            current = trial
        else:
            out.append(current)
            current = token
    out.append(current)
    return out


def render(letter: Letter, *, dpi: int = 200, font_pt: float = 12.0) -> list[Image.Image]:
    """Clean greyscale A4 pages; the text flows onto as many pages as it needs."""
    found = cjk_font()
    if found is None:
        raise RuntimeError("no CJK font installed (apt-get install fonts-noto-cjk)")
    font = ImageFont.truetype(found[0], round(font_pt / 72 * dpi), index=found[1])
    title_font = ImageFont.truetype(found[0], round(font_pt * 1.35 / 72 * dpi), index=found[1])
    w, h = round(8.27 * dpi), round(11.69 * dpi)
    margin = round(0.9 * dpi)
    step = round(font_pt / 72 * dpi * 1.9)
    pages: list[Image.Image] = []
    draw, yy = None, 0

    def new_page() -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
        img = Image.new("L", (w, h), 255)
        pages.append(img)
        return img, ImageDraw.Draw(img), margin

    _page, draw, yy = new_page()
    for i, para in enumerate(letter.lines):
        use = title_font if i == 0 else font
        wrapped = _wrap(para, use, w - 2 * margin)
        for line in wrapped:
            if yy + step > h - margin:
                _page, draw, yy = new_page()
            x = (w - use.getlength(line)) / 2 if i == 0 else margin
            if i >= len(letter.lines) - 2 and letter.lang == "zh":  # signature and date to the right, as written
                x = w - margin - use.getlength(line)
            draw.text((x, yy), line, font=use, fill=0)
            yy += round(step * (1.4 if i == 0 else 1))
    return pages


def degrade(img: Image.Image, rng: random.Random, *, angle: float | None = None, blur: float | None = None,
            noise: float | None = None, paper: int | None = None, turn: int = 0) -> Image.Image:
    """Make a clean page look scanned: grey paper, faded toner, tilt, blur, noise and specks; `turn` 90/180/270
    rotates the whole page (a sheet fed the wrong way)."""
    paper = rng.randint(215, 250) if paper is None else paper
    ink = rng.randint(10, 60)
    out = img.point(lambda v: ink + (paper - ink) * v // 255)
    angle = rng.uniform(-2.0, 2.0) if angle is None else angle
    out = out.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=paper)
    blur = rng.uniform(0.3, 0.9) if blur is None else blur
    if blur > 0:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    noise = rng.uniform(4, 12) if noise is None else noise
    if noise > 0:  # gaussian noise around 128, added then re-centred
        out = ImageChops.add(out, Image.effect_noise(out.size, noise), scale=1.0, offset=-128)
    draw = ImageDraw.Draw(out)
    for _ in range(rng.randint(20, 80)):  # specks
        x, y, r = rng.randrange(out.width), rng.randrange(out.height), rng.choice([1, 1, 2])
        draw.ellipse((x, y, x + r, y + r), fill=rng.randint(40, 120))
    if turn:
        out = out.rotate(turn, expand=True)
    return out


def scan(letter: Letter, *, dpi: int = 200, seed: int | None = None, turn: int = 0,
         **kwargs: float) -> list[Image.Image]:
    rng = random.Random(letter.seed if seed is None else seed)
    return [degrade(p, rng, turn=turn, **kwargs) for p in render(letter, dpi=dpi)]  # type: ignore[arg-type]


def encode(pages: list[Image.Image], fmt: str, *, dpi: int = 200, quality: int = 75) -> bytes:
    """pages → file bytes: png, jpeg (first page), tiff (all pages; "tiff-g4": bilevel), pdf (image-only)."""
    buf = io.BytesIO()
    if fmt == "png":
        pages[0].save(buf, "PNG", dpi=(dpi, dpi), optimize=True)
    elif fmt == "jpeg":
        pages[0].save(buf, "JPEG", quality=quality, dpi=(dpi, dpi))
    elif fmt == "tiff":
        pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_adobe_deflate",
                      dpi=(dpi, dpi))
    elif fmt == "tiff-g4":
        bw = [p.point(lambda v: 255 if v > 140 else 0).convert("1") for p in pages]
        bw[0].save(buf, "TIFF", save_all=True, append_images=bw[1:], compression="group4", dpi=(dpi, dpi))
    elif fmt == "pdf":
        rgb = [p.convert("L") for p in pages]
        rgb[0].save(buf, "PDF", save_all=True, append_images=rgb[1:], resolution=float(dpi), quality=quality)
    else:
        raise ValueError(fmt)
    return buf.getvalue()


# -- hand-written PDFs ----------------------------------------------------------------------------------------

def _pdf(objects: list[bytes], *, trailer_extra: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return bytes(out)


def _pdf_escape(text: str) -> bytes:
    return text.encode("latin-1", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages carry a real text layer (Helvetica, English): what a scanner's "searchable PDF" gives."""
    n = len(pages)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    for i, lines in enumerate(pages):
        stream = b"BT /F1 11 Tf 14 TL 60 780 Td " + b" ".join(b"(%s) '" % _pdf_escape(line) for line in lines) + b" ET"
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return _pdf(objects)


def encrypted_pdf() -> bytes:
    """A PDF protected by a user password (standard security handler, RC4 40-bit): it cannot be opened without it."""
    rng = random.Random(7)
    o_val = bytes(rng.randrange(256) for _ in range(32))
    u_val = bytes(rng.randrange(256) for _ in range(32))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
               b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>"
               % (o_val.hex().encode(), u_val.hex().encode())]
    file_id = b"<%s>" % bytes(range(16)).hex().encode()
    return _pdf(objects, trailer_extra=b"/Encrypt 4 0 R /ID [%s %s] " % (file_id, file_id))


def corrupt_pdf() -> bytes:
    """The first few hundred bytes of a PDF and then garbage: a scan cut short and mangled in transfer."""
    good = text_pdf([["Complaint about late delivery"]])
    return good[:200] + bytes(random.Random(3).randrange(256) for _ in range(600))


def bomb_png(width: int = 40000, height: int = 40000) -> bytes:
    """A small PNG (a few hundred KB) that would decode to width × height pixels: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + one bilevel row
    comp = zlib.compressobj(9)
    body = bytearray()
    block = row * 256
    for _ in range(height // 256):
        body += comp.compress(block)
    body += comp.compress(row * (height % 256)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", bytes(body)) + chunk(b"IEND", b"")


@dataclass
class Sample:
    letter: Letter
    fmt: str
    data: bytes
    turn: int = 0
    notes: list[str] = field(default_factory=list)


def benchmark_set(count: int = 30) -> list[Sample]:
    """The benchmark letters: mostly Chinese, some English, in every format; a few two-page ones."""
    formats = ["jpeg", "png", "tiff", "pdf", "jpeg", "tiff-g4", "png", "pdf"]
    samples = []
    for i in range(count):
        lang = "en" if i % 6 == 5 else "zh"
        pages = 2 if i % 10 == 3 else 1
        letter = make_letter(1000 + i, lang, pages=pages)
        dpi = 300 if i % 3 == 0 else 200
        fmt = formats[i % len(formats)]
        if pages > 1 and fmt in ("jpeg", "png"):
            fmt = "pdf"
        samples.append(Sample(letter, fmt, encode(scan(letter, dpi=dpi), fmt, dpi=dpi, quality=70)))
    return samples


def demo_samples() -> dict[str, bytes]:
    """The two scans shipped in ingestd/samples/letters/ for `ingestd demo` (each well under 300 KB)."""
    zh = make_letter(4, "zh")
    en = make_letter(8, "en")
    return {
        "01-letter-zh.jpg": encode(scan(zh, dpi=150, noise=3, blur=0.5), "jpeg", dpi=150, quality=60),
        "02-letter-en-upside-down.pdf": encode(scan(en, dpi=150, noise=3, blur=0.4, turn=180), "pdf", dpi=150,
                                               quality=60),
    }


if __name__ == "__main__":  # python -m tests.scans.letters DIR: write the demo samples there
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "ingestd/samples/letters")
    target.mkdir(parents=True, exist_ok=True)
    for name, data in demo_samples().items():
        (target / name).write_bytes(data)
        print(f"{target / name}: {len(data):,} bytes")
