from kongchuo.accounts.scoping import children_for


def test_world_scopes(world):
    names = lambda u: sorted(c.name for c in children_for(world.users[u]))  # noqa: E731
    assert names("county_admin") == sorted(["张小明", "李小红", "王晓东", "陈小芳"])
    assert names("township_a") == sorted(["张小明", "王晓东"])
    assert names("township_b") == sorted(["李小红", "王晓东", "陈小芳"])
    assert names("school_a") == ["张小明"]
    assert names("teacher_a") == ["张小明"]
    assert names("liaison_police") == sorted(["张小明", "陈小芳"])
    assert names("county2_admin") == ["赵小刚"]
