"""Each feature of the rule language, through the scan core."""

from __future__ import annotations


def rules_hit(hits, item=None):
    return {(h["item_id"], h["rule_id"]) for h in hits if item is None or h["item_id"] == item}


def test_exclusion_suppresses_only_the_hit_it_contains(scan):
    hits = scan([{"item_id": "a", "title": "象牙白T恤 象牙手镯"}, {"item_id": "b", "title": "象牙白T恤 象牙色"}])
    spans = [(h["item_id"], h["start"], h["end"]) for h in hits if h["rule_id"] == "WL001"]
    assert spans == [("a", 6, 8)]


def test_separator_normalization_reports_original_span(scan):
    hits = scan(["老挝 象-牙手镯", "穿过 象 * 牙 雕", "象🌟牙"])
    got = {
        (h["item_id"], h["matched"], h["start"], h["end"], h["normalizations"]) for h in hits if h["rule_id"] == "WL001"
    }
    assert got == {
        ("0", "象-牙", 3, 6, "separator"),
        ("1", "象 * 牙", 3, 8, "separator"),
        ("2", "象🌟牙", 0, 3, "separator"),
    }


def test_gap_is_bounded(scan):
    assert not [h for h in scan(["象 。。。。。 牙"]) if h["rule_id"] == "WL001"]


def test_charmap_emoji_replaces_a_character(scan):
    hits = [h for h in scan(["🐘牙手镯"]) if h["rule_id"] == "WL001"]
    assert [(h["matched"], h["normalizations"]) for h in hits] == [("🐘牙", "charmap")]


def test_traditional_fullwidth_and_case(scan):
    hits = scan(["象牙手鐲 ＮＯ．１"])
    by_rule = {h["rule_id"]: h for h in hits}
    assert by_rule["AT001"]["matched"] == "ＮＯ．１"
    assert set(by_rule["AT001"]["normalizations"].split(",")) == {"nfkc", "case"}


def test_pinyin_full_and_mixed_and_alias(scan):
    hits = scan(["xiangya 手镯", "象ya 雕件", "xiang牙 摆件", "象yá 把件"])
    got = sorted((h["item_id"], h["matched"], h["normalizations"]) for h in hits if h["rule_id"] == "WL001")
    assert got == [
        ("0", "xiangya", "pinyin"),
        ("1", "象ya", "pinyin"),
        ("2", "xiang牙", "pinyin"),
        ("3", "象yá", "pinyin,accents"),
    ]


def test_ascii_boundary_on_latin_terms(scan):
    assert not scan(["xiangyang 襄阳特产"])  # 'xiangya' runs into 'ng'


def test_word_boundary_uses_jieba(scan):
    hits, res = scan(["第一品牌", "第一次使用", "最便宜", "最近上新"], explain=True)
    assert rules_hit(hits) == {("0", "AT001"), ("2", "AT001")}
    codes = {s.matched: s.code for s in res.suppressed if s.rule_id == "AT001"}
    assert codes["第一"] == "word" and codes["最"] == "word"


def test_exact_term_needs_its_separators(scan):
    assert ("0", "WL006") in rules_hit(scan(["1:1复刻"]))
    assert not [h for h in scan(["双11 特价 1 1"]) if h["rule_id"] == "WL006"]


def test_with_condition_within_distance(scan):
    hits = scan(["猫池 批发", "猫池", "猫池说明书，详细讲解多种常见的故障以及排除方法，不批发"])
    assert rules_hit(hits) == {("0", "WL002")}


def test_with_condition_without_distance_anywhere_in_fields(scan):
    hits = scan([{"title": "彩票", "description": "支持APP 下单"}, {"title": "彩票打印纸"}])
    assert rules_hit(hits) == {("0", "WL004")}


def test_without_condition_blocks_nearby_only(scan):
    hits = scan(["仿象牙树脂手镯", "象牙手镯 ……………… 另有多款仿象牙可选购"])
    assert rules_hit(hits) == {("1", "WL001")}


def test_adjust_raises_score(scan):
    plain, boosted = scan(["象牙手镯"]), scan(["回流象牙手镯"])
    assert plain[0]["score"] == 80 and boosted[0]["score"] == 90


def test_regex_runs_where_anchor_found(scan):
    hits = [h for h in scan(["出售 16路猫池"]) if h["rule_id"] == "WL002"]
    assert {(h["term"], h["matched"]) for h in hits} == {("\\d+路猫池", "16路猫池")}


def test_field_scope(scan):
    hits = scan([{"title": "军品"}, {"title": "帽子", "shop_name": "老兵军品店"}])
    assert rules_hit(hits) == {("1", "WL005")}
    assert hits[0]["field"] == "shop_name" and hits[0]["start"] == 2


def test_category_scope_and_missing_category(scan):
    hits = scan(
        [{"title": "降血压茶", "category": "食品>茶"}, {"title": "降血压茶", "category": "图书"}, {"title": "降血压茶"}]
    )
    assert rules_hit(hits) == {("0", "WL003")}


def test_structural_checks(scan):
    hits = scan(
        [
            {"title": "x", "seller_type": "enterprise", "shop_license_no": ""},
            {"title": "x", "seller_type": "enterprise", "shop_license_no": "914403001922038216"},
            {"title": "x", "shop_license_no": "914403001922038217"},
            {"title": "x", "price": 9.9, "original_price": 99.0},
            {"title": "x", "price": None, "original_price": 99.0},
        ]
    )
    assert rules_hit(hits) == {("0", "LD001"), ("2", "LD002"), ("3", "LD003")}
    ld2 = next(h for h in hits if h["rule_id"] == "LD002")
    assert ld2["field"] == "shop_license_no" and "校验位为7" in ld2["snippet"]


def test_undecided_checks_are_counted(rules):
    from helpers import make_batch

    import screener

    res = screener.scan_batch(make_batch([{"title": "x", "price": 5.0}, {"title": "y"}]), rules)
    assert res.undecided["LD003"] == 2
    assert res.undecided["LD001"] == 2  # no seller_type


def test_overlapping_terms_of_a_rule_give_one_hit(scan):
    hits = [h for h in scan(["第一 第一"]) if h["rule_id"] == "AT001"]
    assert [(h["start"], h["end"]) for h in hits] == [(0, 2), (3, 5)]


def test_hits_are_deterministic_and_sorted(scan):
    rows = [{"title": "象牙 第一 16路猫池出售"}] * 3
    a, b = scan(rows), scan(rows)
    assert a == b
    assert [h["row_id"] for h in a] == sorted(h["row_id"] for h in a)


def test_boundary_alnum(tmp_path):
    from helpers import write_pack

    import screener

    p = write_pack(
        tmp_path,
        """\
pack: counterfeit
prefix: CF
legal_basis: [{law: 《商标法》, article: 第五十七条}]
rules:
  - id: CF001
    name: x
    severity: low
    score: 10
    terms: [{term: 超a, boundary: alnum}, vx]
    examples: {hit: [超A 包包], miss: [主板 超a85]}
""",
    )
    rs = screener.load_rules([p])
    from helpers import make_batch

    hits = screener.scan_batch(
        make_batch([{"title": "超A 包包"}, {"title": "主板 超a85"}, {"title": "加vx123456"}]), rs
    ).hits
    assert sorted(zip(hits.column("item_id").to_pylist(), hits.column("matched").to_pylist())) == [
        ("0", "超A"),
        ("2", "vx"),
    ]


def test_rule_exclusions_apply_to_regex_matches(tmp_path):
    from helpers import make_batch, write_pack

    import screener

    p = write_pack(
        tmp_path,
        """\
pack: false_advertising
prefix: FA
legal_basis: [{law: 《广告法》, article: 第二十八条}]
rules:
  - id: FA001
    name: x
    severity: low
    score: 10
    regex: ['瘦[0-9]+斤']
    exclude: [瘦10斤食谱]
    examples: {hit: [一周瘦10斤], miss: [瘦10斤食谱]}
""",
    )
    rs = screener.load_rules([p])
    hits = screener.scan_batch(make_batch([{"title": "一周瘦10斤"}, {"title": "瘦10斤食谱"}]), rs).hits
    assert hits.column("item_id").to_pylist() == ["0"]


def test_only_via_separator(tmp_path):
    from helpers import make_batch, write_pack

    import screener

    p = write_pack(
        tmp_path,
        """\
pack: counterfeit
prefix: CF
legal_basis: [{law: 《商标法》, article: 第五十七条}]
rules:
  - id: CF001
    name: split brand
    severity: low
    score: 10
    terms: [{term: 古驰, only_via: [separator]}, {term: gucci, only_via: [separator], exclude: [guccio]}]
    examples: {hit: [古*驰 腰带, G·U·C·C·I 包], miss: [古驰 官方旗舰店, gucci]}
""",
    )
    rs = screener.load_rules([p])
    rows = [{"title": t} for t in ("古*驰 腰带", "古驰 官方", "G·U·C·C·I 包", "gucci 包", "g u c c i o")]
    hits = screener.scan_batch(make_batch(rows), rs).hits
    assert hits.column("matched").to_pylist() == ["古*驰", "G·U·C·C·I"]
