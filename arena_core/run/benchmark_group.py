"""What a benchmark is: a group of sessions, one per (candidate model, seed), on one split.

Each member's manifest carries the group (``BenchmarkRef``); members' session names end with
``NAME_TAG`` so the session listing finds them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from arena_core.session.manifest import SessionStatus
from arena_core.session.strategy import Strategy
from arena_core.store.status import ACTIVE

FINISHED, PENDING, FAILED = "finished", "pending", "failed"  # a member's state
NAME_TAG = "benchmark"  # members' session names end with it: cheap to spot in store.list()


class BenchmarkRef(BaseModel):
    """The ``benchmark`` entry of a member's manifest: the group it belongs to."""

    model_config = ConfigDict(extra="allow")

    id: str  # the benchmark's id: its first member's session id
    name: str  # the session name the benchmark was started with (without the tag)
    models: list[str]
    seeds: list[int]
    default_seed: int = 42  # the seed a promoted model trains with
    # The session this entry was written for. A relaunch copies the whole manifest, so a copy
    # naming another session (a user's relaunch of a member, a promoted model) is no member.
    member: str | None = None


@dataclass(frozen=True)
class Member:
    """One (model, seed) session of a benchmark, with its effective status."""

    session_id: str
    model: str
    seed: int
    status: str
    created_at: str = ""

    @property
    def state(self) -> str:
        """finished (in the means), pending (not ended yet) or failed (left out)."""
        if self.status == SessionStatus.COMPLETED:
            return FINISHED
        if self.status in ACTIVE or self.status == SessionStatus.READY:
            return PENDING
        return FAILED


@dataclass(frozen=True)
class Benchmark:
    id: str
    name: str
    models: list[str]
    seeds: list[int]
    default_seed: int
    members: tuple[Member, ...]
    keys: dict[str, str]  # key -> resolved strategy, in dataset order
    per_language: bool
    test_share: bool  # the split keeps test rows: scores are test scores
    split_sha256: str | None

    @property
    def created_at(self) -> str:
        return min((m.created_at for m in self.members), default="")

    @property
    def running(self) -> bool:
        """True while a member is queued or running (a live view keeps refreshing)."""
        return any(m.status in ACTIVE for m in self.members)

    def count(self, state: str) -> int:
        return sum(m.state == state for m in self.members)


def tagged(name: str) -> str:
    """A member's session name: the benchmark's name with the tag."""
    return name if name.rstrip().endswith(NAME_TAG) else f"{name} {NAME_TAG}"


def untagged(name: str) -> str:
    """The name without the tag (a session named just "benchmark" keeps it)."""
    stripped = name.rstrip()
    if not stripped.endswith(NAME_TAG):
        return name
    return stripped[: -len(NAME_TAG)].rstrip() or stripped


def metric_name(strategy: str) -> str:
    """What a key's score is, in words."""
    return "positive-class F1" if strategy == Strategy.ONE_VS_ALL else "macro-F1"
