from foundation.markdown import markdown_table


def test_markdown_table_escapes_and_cuts():
    text = markdown_table(["a", "b"], [["x|y", 1], ["long text here", None]], width=6)
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |", "| long … |  |"]
