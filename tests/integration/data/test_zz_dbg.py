from tests.integration.data.test_bad_input import *
def test_dbg(seeded, tmp_path):
    actions = tmp_path / "actions.csv"
    actions.write_text("symbol,date,action_type,value\nAAPL,2024-01-17,DIVIDEND,0.25\n")
    r1 = run_file(seeded, actions, table="corporate_actions")
    print(r1)
    report = run_file(seeded, write_csv(tmp_path, *GOOD.values()))
    print(report)
    with seeded.connect() as conn:
        print(conn.execute(text("select date, close, adj_close from prices_daily order by date")).all())
        print(conn.execute(text("select * from corporate_actions")).all())
    assert 0
