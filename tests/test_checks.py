from screener.checks import uscc_problem, uscc_valid


def test_uscc_valid_codes():
    assert uscc_valid("914403001922038216")
    assert uscc_valid("9144030071526726XG")
    assert uscc_valid(" 9144030071526726xg ")  # case and whitespace forgiven


def test_uscc_problems_are_explained():
    assert "应为18位" in uscc_problem("91440300192203821")
    assert "不允许的字符：I" in uscc_problem("91440300192203821I")  # I is not in the alphabet
    assert "校验位为7，按GB 32100-2015应为6" in uscc_problem("914403001922038217")
    assert uscc_problem("91530100MA6K5XXXXX") is not None  # the schema's placeholder
