"""A random but seeded mix of realistic events, for load."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from scis.simulator.messages import MessageFactory
from scis.simulator.scenario import SimUser
from scis.webcast import webcast_pb2 as pb

MIX_USER_ID_BASE = 6_800_000_000_000_000_000  # TikTok user ids are 19 digits
WEIGHTS = {"chat": 40, "like": 25, "join": 15, "gift": 10, "follow": 4, "share": 2, "viewers": 4}
_KINDS = list(WEIGHTS)
_CUM_WEIGHTS = list(itertools.accumulate(WEIGHTS.values()))
GIFTS = [(5655, "Rose", 1), (5269, "TikTok", 1), (5487, "Finger Heart", 5), (6064, "GG", 1), (5760, "Weights", 1)]
BIG_GIFTS = [(6203, "Sunglasses", 199), (5585, "Confetti", 100), (6267, "Corgi", 299)]
WORDS = [
    "hello",
    "hi",
    "love",
    "this",
    "wow",
    "so",
    "cool",
    "where",
    "are",
    "you",
    "from",
    "nice",
    "stream",
    "lol",
    "greetings",
    "amazing",
    "music",
    "please",
    "say",
    "to",
    "me",
    "first",
    "time",
    "here",
    "great",
    "vibes",
]


def mix_users(seed: int, count: int = 200) -> list[SimUser]:
    """A deterministic crowd of viewers."""
    rng = random.Random(f"users-{seed}")
    users = []
    for index in range(count):
        handle = f"viewer_{seed}_{index:03d}"
        users.append(SimUser(id=MIX_USER_ID_BASE + rng.randrange(10**15), handle=handle, nickname=f"Viewer {index}"))
    return users


class EventMix:
    """Yields messages of a weighted random mix; the same seed gives the same sequence of events."""

    def __init__(self, factory: MessageFactory, seed: int) -> None:
        self._factory = factory
        self._rng = random.Random(seed)
        self._users = mix_users(seed)
        self._streaks: list[tuple[SimUser, tuple[int, str, int], int, int]] = []  # user, gift, count, group
        self._viewers = 100

    def __iter__(self) -> Iterator[pb.Message]:
        while True:
            yield self.next_message()

    def next_message(self) -> pb.Message:
        """The next message of the mix."""
        rng, factory = self._rng, self._factory
        if self._streaks and rng.random() < 0.3:
            return self._advance_streak()
        kind = rng.choices(_KINDS, cum_weights=_CUM_WEIGHTS)[0]
        user = rng.choice(self._users)
        if kind == "chat":
            return factory.chat(user, " ".join(rng.choices(WORDS, k=rng.randint(1, 6))))
        if kind == "like":
            return factory.likes(user, rng.randint(1, 15))
        if kind == "join":
            return factory.join(user)
        if kind == "follow":
            return factory.follow(user)
        if kind == "share":
            return factory.share(user)
        if kind == "viewers":
            self._viewers = max(1, self._viewers + rng.randint(-10, 15))
            top = rng.sample(self._users, 3)
            return factory.viewers(self._viewers, self._viewers * 4, top)
        if rng.random() < 0.8:
            gift = rng.choice(GIFTS)
            group = factory.new_group_id()
            self._streaks.append((user, gift, 1, group))
            return factory.gift(
                user,
                gift_id=gift[0],
                name=gift[1],
                diamonds=gift[2],
                repeat_count=1,
                repeat_end=False,
                group_id=group,
                streakable=True,
            )
        gift = rng.choice(BIG_GIFTS)
        return factory.gift(
            user,
            gift_id=gift[0],
            name=gift[1],
            diamonds=gift[2],
            repeat_count=1,
            repeat_end=True,
            group_id=factory.new_group_id(),
            streakable=False,
        )

    def _advance_streak(self) -> pb.Message:
        index = self._rng.randrange(len(self._streaks))
        user, gift, count, group = self._streaks[index]
        ends = self._rng.random() < 0.35
        if ends:
            del self._streaks[index]
        else:
            count += 1
            self._streaks[index] = (user, gift, count, group)
        return self._factory.gift(
            user,
            gift_id=gift[0],
            name=gift[1],
            diamonds=gift[2],
            repeat_count=count,
            repeat_end=ends,
            group_id=group,
            streakable=True,
        )
