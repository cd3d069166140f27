from kernel.actors import Actor, acting_as, current_actor


def test_an_actor_holds_for_its_block_and_the_previous_one_returns():
    admin = Actor("admin", "alice", ref="1", address="192.0.2.7", channel="console")
    command = Actor("command", "create_identity", channel="cli")

    assert current_actor() is None
    with acting_as(admin):
        assert current_actor() == admin
        with acting_as(command):
            assert current_actor() == command
        assert current_actor() == admin
    assert current_actor() is None
