from token_admin.ratelimit import hit


def test_counts_each_request_in_the_window():
    first = hit("test", "1.2.3.4", limit=2, period=60, now=1200.0)
    second = hit("test", "1.2.3.4", limit=2, period=60, now=1210.0)
    third = hit("test", "1.2.3.4", limit=2, period=60, now=1259.5)
    assert (first.used, first.remaining, first.exceeded, first.reset_in) == (1, 1, False, 60)
    assert (second.used, second.remaining, second.exceeded, second.reset_in) == (2, 0, False, 50)
    assert (third.used, third.remaining, third.exceeded, third.reset_in) == (3, 0, True, 1)


def test_a_new_window_starts_afresh():
    hit("test", "key", limit=1, period=60, now=1200.0)
    assert hit("test", "key", limit=1, period=60, now=1260.0).used == 1


def test_identities_and_scopes_are_counted_apart():
    hit("test", "a", limit=5, period=60, now=1200.0)
    assert hit("test", "b", limit=5, period=60, now=1200.0).used == 1
    assert hit("other", "a", limit=5, period=60, now=1200.0).used == 1
