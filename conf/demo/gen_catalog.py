#!/usr/bin/env python3
"""Deterministic generator of the demo catalog (conf/demo/catalog.json).

Only the standard library; the same output on every run (fixed seed, no
clock). Re-run after editing and commit both files:

    python3 conf/demo/gen_catalog.py > conf/demo/catalog.json

Format (read by mall-seed):
  {"version": 1,
   "categories": [{"id", "parent_id" (0 = root), "name", "name_en", "sort"}],
   "products": [{"id", "category_id", "name", "name_en", "brand",
                 "description", "created_at" (unix s), "sales",
                 "images": [{"thumbnail", "medium", "large"}],
                 "params": [{"name", "value"}],
                 "rating": {"average", "count"},
                 "reviews": [{"user", "rating", "content", "created_at"}],
                 "skus": [{"sku_id", "attrs": {"color", "size"},
                           "price_fen", "stock"}]}]}
Money is integer fen.
"""
import json
import random
import sys

IMG = "https://img.mall.example/p/{id}/{size}.jpg"
T0 = 1672531200          # 2023-01-01T00:00:00Z
T1 = 1730419200          # 2024-11-01T00:00:00Z

# (id, parent, name, name_en)
CATEGORIES = [
    (1, 0, "数码", "Digital"),
    (11, 1, "手机通讯", "Phones"),
    (111, 11, "手机", "Smartphones"),
    (112, 11, "手机壳", "Phone cases"),
    (113, 11, "充电器", "Chargers"),
    (12, 1, "电脑办公", "Computers"),
    (121, 12, "笔记本", "Laptops"),
    (122, 12, "键盘鼠标", "Keyboards & mice"),
    (13, 1, "影音娱乐", "Audio"),
    (131, 13, "耳机", "Headphones"),
    (132, 13, "音箱", "Speakers"),
    (2, 0, "服饰", "Apparel"),
    (21, 2, "男装", "Menswear"),
    (211, 21, "T恤", "T-shirts"),
    (212, 21, "夹克", "Jackets"),
    (22, 2, "女装", "Womenswear"),
    (221, 22, "连衣裙", "Dresses"),
    (222, 22, "卫衣", "Hoodies"),
    (23, 2, "鞋靴", "Shoes"),
    (231, 23, "运动鞋", "Sneakers"),
    (232, 23, "靴子", "Boots"),
    (3, 0, "食品", "Food"),
    (31, 3, "零食", "Snacks"),
    (311, 31, "坚果", "Nuts"),
    (312, 31, "饼干", "Biscuits"),
    (32, 3, "饮料", "Drinks"),
    (321, 32, "茶叶", "Tea"),
    (322, 32, "咖啡", "Coffee"),
    (33, 3, "生鲜", "Fresh"),
    (331, 33, "水果", "Fruit"),
    (4, 0, "家居", "Home"),
    (41, 4, "厨具", "Kitchen"),
    (411, 41, "锅具", "Cookware"),
    (412, 41, "刀具", "Knives"),
    (42, 4, "家纺", "Textiles"),
    (421, 42, "床品", "Bedding"),
    (422, 42, "毛巾", "Towels"),
    (43, 4, "收纳", "Storage"),
    (431, 43, "收纳盒", "Storage boxes"),
]

PHONES = [
    ("HUAWEI", "华为 Mate 60 Pro 5G 手机", "HUAWEI Mate 60 Pro 5G smartphone", 699900),
    ("HUAWEI", "华为 P60 Art 手机", "HUAWEI P60 Art smartphone", 698800),
    ("HUAWEI", "华为 nova 12 手机", "HUAWEI nova 12 smartphone", 299900),
    ("Xiaomi", "小米 14 Pro 徕卡影像手机", "Xiaomi 14 Pro Leica camera phone", 499900),
    ("Xiaomi", "小米 Redmi K70 游戏手机", "Xiaomi Redmi K70 gaming phone", 249900),
    ("Xiaomi", "小米 Redmi Note 13 5G 手机", "Xiaomi Redmi Note 13 5G phone", 119900),
    ("Apple", "Apple iPhone 15 Pro 手机", "Apple iPhone 15 Pro smartphone", 799900),
    ("Apple", "Apple iPhone 15 手机", "Apple iPhone 15 smartphone", 599900),
    ("Apple", "Apple iPhone 14 手机", "Apple iPhone 14 smartphone", 439900),
    ("OPPO", "OPPO Find X7 Ultra 影像手机", "OPPO Find X7 Ultra camera phone", 599900),
    ("OPPO", "OPPO Reno11 5G 手机", "OPPO Reno11 5G smartphone", 249900),
    ("vivo", "vivo X100 Pro 蔡司影像手机", "vivo X100 Pro ZEISS camera phone", 499900),
    ("vivo", "vivo iQOO 12 电竞手机", "vivo iQOO 12 esports phone", 399900),
    ("HONOR", "荣耀 Magic6 Pro 手机", "HONOR Magic6 Pro smartphone", 569900),
    ("HONOR", "荣耀 X50 长续航手机", "HONOR X50 long-battery phone", 139900),
    ("OnePlus", "一加 12 旗舰手机", "OnePlus 12 flagship phone", 429900),
]
PHONE_COLORS = ["雅川青", "曜金黑", "白沙银", "远峰蓝", "星光色", "午夜色"]
PHONE_STORAGE = [("8GB+256GB", 0), ("12GB+256GB", 30000), ("12GB+512GB", 80000),
                 ("16GB+1TB", 200000)]

CASE_MODELS = [("iPhone 15 Pro", "Apple"), ("iPhone 15", "Apple"),
               ("华为 Mate 60 Pro", "HUAWEI"), ("小米 14", "Xiaomi"),
               ("OPPO Reno11", "OPPO"), ("vivo X100", "vivo"),
               ("荣耀 Magic6", "HONOR"), ("iPhone 14", "Apple"),
               ("iPhone 13", "Apple"), ("Redmi K70", "Xiaomi")]
CASE_KINDS = [("硅胶防摔手机壳", "silicone shockproof phone case", 3900),
              ("透明气囊手机壳", "clear airbag phone case", 2900),
              ("磁吸皮革手机壳", "magnetic leather phone case", 9900)]
CASE_BRANDS = ["ESR 亿色", "Benks 邦克仕", "PITAKA"]
CASE_EN = {"ESR 亿色": "ESR", "Benks 邦克仕": "Benks", "PITAKA": "PITAKA"}

# leaf id -> (brands, [(zh noun, en noun, base price fen)], colours, sizes)
GENERIC = {
    113: (["Anker", "绿联 UGREEN", "小米 Xiaomi"],
          [("氮化镓快充充电器 65W", "GaN fast charger 65W", 12900),
           ("无线充电器 15W", "wireless charger 15W", 9900),
           ("车载充电器", "car charger", 5900),
           ("充电宝 20000mAh", "power bank 20000mAh", 14900)],
          ["白色", "黑色"], ["标准版", "套装版"]),
    121: (["Lenovo 联想", "HUAWEI", "Apple", "ASUS 华硕"],
          [("轻薄笔记本电脑 14英寸", "thin laptop 14-inch", 529900),
           ("游戏笔记本电脑 16英寸", "gaming laptop 16-inch", 899900),
           ("二合一平板笔记本", "2-in-1 tablet laptop", 459900)],
          ["深空灰", "银色"], ["16GB+512GB", "32GB+1TB"]),
    122: (["Logitech 罗技", "Razer 雷蛇", "Keychron"],
          [("机械键盘", "mechanical keyboard", 49900),
           ("无线鼠标", "wireless mouse", 19900),
           ("键鼠套装", "keyboard and mouse combo", 29900)],
          ["黑色", "白色", "粉色"], ["标准", "青轴", "红轴"]),
    131: (["Sony 索尼", "Apple", "HUAWEI", "Edifier 漫步者"],
          [("降噪无线耳机", "noise-cancelling wireless headphones", 179900),
           ("真无线蓝牙耳机", "true wireless earbuds", 89900),
           ("运动耳机", "sports earphones", 29900)],
          ["黑色", "白色", "蓝色"], ["标准版"]),
    132: (["Xiaomi", "Marshall", "JBL"],
          [("蓝牙音箱", "Bluetooth speaker", 39900),
           ("智能音箱", "smart speaker", 29900)],
          ["黑色", "灰色"], ["标准版", "Pro"]),
    211: (["优衣库 UNIQLO", "李宁 LI-NING", "海澜之家"],
          [("纯棉圆领T恤", "cotton crew-neck T-shirt", 7900),
           ("速干运动T恤", "quick-dry sports T-shirt", 9900)],
          ["白色", "黑色", "藏青"], ["S", "M", "L", "XL"]),
    212: (["波司登", "Columbia", "太平鸟"],
          [("防风夹克", "windproof jacket", 39900),
           ("棒球服夹克", "baseball jacket", 29900)],
          ["黑色", "军绿"], ["M", "L", "XL"]),
    221: (["ONLY", "伊芙丽", "太平鸟"],
          [("碎花连衣裙", "floral dress", 29900),
           ("法式收腰连衣裙", "French waisted dress", 39900)],
          ["米白", "雾蓝", "黑色"], ["S", "M", "L"]),
    222: (["Nike", "安踏 ANTA", "优衣库 UNIQLO"],
          [("连帽卫衣", "hooded sweatshirt", 19900),
           ("加绒圆领卫衣", "fleece crew sweatshirt", 22900)],
          ["灰色", "粉色", "黑色"], ["S", "M", "L", "XL"]),
    231: (["Nike", "adidas", "李宁 LI-NING", "安踏 ANTA"],
          [("跑步鞋", "running shoes", 59900),
           ("篮球鞋", "basketball shoes", 79900),
           ("休闲板鞋", "casual skate shoes", 39900)],
          ["白色", "黑色", "红色"], ["39", "40", "41", "42", "43"]),
    232: (["Dr.Martens", "骆驼 CAMEL"],
          [("马丁靴", "Martin boots", 89900),
           ("雪地靴", "snow boots", 39900)],
          ["黑色", "棕色"], ["38", "40", "42"]),
    311: (["三只松鼠", "良品铺子", "百草味"],
          [("每日坚果混合装", "daily mixed nuts", 9900),
           ("碧根果", "pecans", 4900),
           ("夏威夷果", "macadamia nuts", 3900)],
          ["原味", "奶香味"], ["500g", "1kg"]),
    312: (["奥利奥 OREO", "嘉顿", "好丽友"],
          [("夹心饼干", "sandwich cookies", 1990),
           ("苏打饼干", "soda crackers", 1590)],
          ["原味", "巧克力味"], ["300g", "600g"]),
    321: (["八马茶业", "大益", "竹叶青"],
          [("西湖龙井绿茶", "West Lake Longjing green tea", 19900),
           ("普洱熟茶饼", "ripe Pu'er tea cake", 29900),
           ("安溪铁观音", "Anxi Tieguanyin oolong", 15900)],
          ["特级", "一级"], ["125g", "250g"]),
    322: (["雀巢 Nescafe", "瑞幸 luckin", "三顿半"],
          [("速溶咖啡", "instant coffee", 5900),
           ("挂耳咖啡", "drip bag coffee", 6900),
           ("咖啡豆", "coffee beans", 8900)],
          ["中度烘焙", "深度烘焙"], ["20杯", "40杯"]),
    331: (["佳沃 Joyvio", "百果园"],
          [("阿克苏冰糖心苹果", "Aksu crystal-heart apples", 5990),
           ("赣南脐橙", "Gannan navel oranges", 4990),
           ("智利车厘子", "Chilean cherries", 19900)],
          ["标准果", "大果"], ["2.5kg", "5kg"]),
    411: (["苏泊尔 SUPOR", "九阳 Joyoung", "双立人 ZWILLING"],
          [("不粘炒锅", "non-stick wok", 19900),
           ("铸铁珐琅锅", "enamel cast-iron pot", 59900),
           ("电饭煲", "rice cooker", 39900)],
          ["红色", "黑色"], ["28cm", "32cm"]),
    412: (["双立人 ZWILLING", "张小泉"],
          [("不锈钢菜刀", "stainless kitchen knife", 12900),
           ("刀具五件套", "five-piece knife set", 39900)],
          ["银色"], ["标准", "套装"]),
    421: (["罗莱 LUOLAI", "水星家纺", "富安娜"],
          [("纯棉四件套", "cotton four-piece bedding set", 39900),
           ("蚕丝被", "silk quilt", 99900)],
          ["灰色", "蓝色", "粉色"], ["1.5m", "1.8m"]),
    422: (["洁丽雅 Grace", "金号 KingShore"],
          [("纯棉毛巾", "cotton towel", 2990),
           ("浴巾", "bath towel", 7990)],
          ["白色", "蓝色", "灰色"], ["单条", "三条装"]),
    431: (["天马 Tenma", "禧天龙"],
          [("透明收纳箱", "clear storage box", 4990),
           ("抽屉式收纳柜", "drawer storage cabinet", 19900)],
          ["透明", "白色"], ["30L", "50L", "80L"]),
}

# English names of brands written in Chinese only
BRAND_EN = {
    "海澜之家": "HLA", "波司登": "Bosideng", "太平鸟": "PEACEBIRD",
    "伊芙丽": "Eifini", "三只松鼠": "Three Squirrels", "良品铺子": "BESTORE",
    "百草味": "Be&Cheery", "嘉顿": "Garden", "好丽友": "Orion",
    "八马茶业": "Bama Tea", "大益": "TAETEA", "竹叶青": "Zhuyeqing",
    "三顿半": "Saturnbird", "百果园": "Pagoda", "张小泉": "Zhang Xiaoquan",
    "水星家纺": "Mercury Home", "富安娜": "Fuanna", "禧天龙": "Citylong",
}


def brand_en(brand):
    if brand in BRAND_EN:
        return BRAND_EN[brand]
    ascii_parts = [w for w in brand.split(" ") if w.isascii()]
    return ascii_parts[-1] if ascii_parts else brand


PARAM_SETS = {
    111: [("屏幕尺寸", ["6.1英寸", "6.7英寸", "6.82英寸"]), ("网络", ["5G"]),
          ("电池容量", ["4500mAh", "5000mAh", "5600mAh"])],
    112: [("材质", ["硅胶", "TPU", "皮革"]), ("适用机型", None)],
}
DEFAULT_PARAMS = [("产地", ["中国", "越南", "德国", "日本"]),
                  ("保修", ["一年", "两年", "无"])]

REVIEWS = [("很好用，物流很快", 5), ("质量不错，性价比高", 5),
           ("和描述一致，满意", 4), ("包装完好，还会回购", 5),
           ("一般般，凑合用", 3), ("颜色比图片略深", 4)]


def stock_for(rng):
    r = rng.random()
    if r < 0.12:
        return 0
    if r < 0.27:
        return rng.randint(1, 9)
    return rng.randint(20, 800)


def make_product(rng, pid, cid, brand, name, name_en, base_price, colors,
                 sizes, params):
    nsku = rng.randint(1, min(6, len(colors) * len(sizes)))
    combos = [(c, s) for c in colors for s in sizes]
    rng.shuffle(combos)
    combos = sorted(combos[:nsku], key=lambda cs: (colors.index(cs[0]),
                                                   sizes.index(cs[1])))
    all_out = rng.random() < 0.05
    skus = []
    for i, (color, size) in enumerate(combos):
        extra = sizes.index(size) * max(base_price // 10, 100)
        if isinstance(size, tuple):
            extra = 0
        price = base_price + extra
        price -= price % 100 if price > 10000 else 0
        skus.append({"sku_id": pid * 100 + i + 1,
                     "attrs": {"color": color, "size": size},
                     "price_fen": price,
                     "stock": 0 if all_out else stock_for(rng)})
    created = rng.randint(T0, T1)
    avg = round(rng.uniform(3.6, 5.0), 1)
    reviews = []
    for k in range(2):
        text, stars = REVIEWS[rng.randrange(len(REVIEWS))]
        reviews.append({"user": "用户%s***" % rng.choice("abcdefghjkmnpqrstuvwxyz"),
                        "rating": stars, "content": text,
                        "created_at": created + rng.randint(86400, 86400 * 60)})
    reviews.sort(key=lambda r: -r["created_at"])
    return {
        "id": pid, "category_id": cid, "name": name, "name_en": name_en,
        "brand": brand,
        "description": "%s，品质保证，全国包邮。%s, quality guaranteed." % (name, name_en),
        "created_at": created, "sales": rng.randint(0, 50000),
        "images": [{size: IMG.format(id=pid, size=size)
                    for size in ("thumbnail", "medium", "large")}] +
                  [{size: IMG.format(id=pid, size="%s-%d" % (size, n))
                    for size in ("thumbnail", "medium", "large")}
                   for n in range(2, rng.randint(2, 4))],
        "params": params,
        "rating": {"average": avg, "count": rng.randint(5, 5000)},
        "reviews": reviews,
        "skus": skus,
    }


def pick_params(rng, cid, extra=None):
    out = []
    for name, values in PARAM_SETS.get(cid, DEFAULT_PARAMS):
        out.append({"name": name,
                    "value": extra if values is None else rng.choice(values)})
    return out


def main():
    rng = random.Random(20241125)
    cats = [{"id": c, "parent_id": p, "name": n, "name_en": e, "sort": i + 1}
            for i, (c, p, n, e) in enumerate(CATEGORIES)]
    products = []
    pid = 1001

    for brand, name, name_en, price in PHONES:
        products.append(make_product(rng, pid, 111, brand, name, name_en, price,
                                     rng.sample(PHONE_COLORS, 3),
                                     [s for s, _ in PHONE_STORAGE[:3]],
                                     pick_params(rng, 111)))
        pid += 1

    for model, _ in CASE_MODELS:
        for zh, en, price in CASE_KINDS:
            brand = rng.choice(CASE_BRANDS)
            en_model = model.replace("华为", "HUAWEI").replace("小米", "Xiaomi") \
                            .replace("荣耀", "HONOR")
            products.append(make_product(
                rng, pid, 112, brand, "%s %s %s" % (brand, model, zh),
                "%s %s %s" % (CASE_EN[brand], en_model, en), price,
                ["黑色", "透明", "深蓝", "酒红"], ["标准版"],
                pick_params(rng, 112, model)))
            pid += 1

    for cid in sorted(GENERIC):
        brands, nouns, colors, sizes = GENERIC[cid]
        for brand in brands:
            for zh, en, price in nouns:
                series = rng.choice(["经典款", "新款", "尊享款", "青春版"])
                series_en = {"经典款": "Classic", "新款": "New",
                             "尊享款": "Premium", "青春版": "Lite"}[series]
                bp = price + rng.randint(-3, 6) * max(price // 20, 100)
                products.append(make_product(
                    rng, pid, cid, brand, "%s %s %s" % (brand, zh, series),
                    "%s %s %s" % (brand_en(brand), en, series_en),
                    max(bp, 990), colors, sizes, pick_params(rng, cid)))
                pid += 1

    json.dump({"version": 1, "categories": cats, "products": products},
              sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
