"""One user's memory never reaches another's; private and shared never see each other."""

from pathlib import Path

from app.core.assistant import TurnRequest
from app.policy.gate import Role
from app.store.db import open_db
from app.store.memory import MemoryStore, Partition
from tests.support.fixtures import open_runtime


def test_memories_are_partitioned_by_user_role_and_space(tmp_path: Path) -> None:
    mem = MemoryStore(open_db(tmp_path / "ora.db"))
    alice = Partition(user_id="alice", role="guest", guild_id="g1")
    bob = Partition(user_id="bob", role="guest", guild_id="g1")
    alice_g2 = Partition(user_id="alice", role="guest", guild_id="g2")
    alice_owner = Partition(user_id="alice", role="owner", guild_id="g1")
    mem.remember(alice, "alice's secret recipe uses saffron")
    mem.append(alice, "user", "my bank PIN hint is saffron")
    for other in (bob, alice_g2, alice_owner):
        assert mem.recall(other, "saffron") == []
        assert mem.recall(other, "sa") == []  # the short-query path too
        assert mem.history(other) == []
    assert [n.text for n in mem.recall(alice, "saffron")] == ["alice's secret recipe uses saffron"]


async def test_a_guests_model_prompt_never_contains_another_users_notes(
    tmp_path: Path, fake_openai
) -> None:
    rt = await open_runtime(tmp_path, fake_openai, profile="shared")
    owner = TurnRequest(
        text="/remember the owner's passport is in the drawer", user_id="owner", role=Role.OWNER
    )
    [e async for e in rt.assistant.turn(owner)]
    guest = TurnRequest(
        text="where is the passport in the drawer?", user_id="friend", role=Role.GUEST
    )
    [e async for e in rt.assistant.turn(guest)]
    prompt = str(fake_openai.requests[-1]["messages"])
    assert "drawer" in prompt  # the guest's own question
    assert "owner's passport" not in prompt
    await rt.close()


async def test_private_and_shared_profiles_share_nothing(tmp_path: Path) -> None:
    private = await open_runtime(tmp_path, None, profile="private")
    shared = await open_runtime(tmp_path, None, profile="shared")
    assert private.settings.state_dir != shared.settings.state_dir
    private.secrets.set("openai", "sk-private")
    (private.settings.state_dir / "files").mkdir(exist_ok=True)
    (private.settings.state_dir / "files" / "diary.txt").write_text("private diary")
    req = TurnRequest(text="/remember private plan", user_id="owner", role=Role.OWNER)
    [e async for e in private.assistant.turn(req)]
    assert shared.secrets.get("openai") is None
    listing = [
        e
        async for e in shared.assistant.turn(
            TurnRequest(text="/files list", user_id="owner", role=Role.OWNER)
        )
    ]
    assert "diary" not in listing[-1].text
    escape = [
        e
        async for e in shared.assistant.turn(
            TurnRequest(
                text=f"/files read {private.settings.state_dir}/files/diary.txt",
                user_id="owner",
                role=Role.OWNER,
            )
        )
    ]
    assert "outside" in escape[-1].text and "private diary" not in escape[-1].text
    recall = [
        e
        async for e in shared.assistant.turn(
            TurnRequest(text="/recall private plan", user_id="owner", role=Role.OWNER)
        )
    ]
    assert "No matching" in recall[-1].text
    await private.close()
    await shared.close()
