"""The action register's reads, each kept by the data version and the day.

A register run repeated with nothing written (a toggle turned back, a plan chosen to open, a
download) is served from these caches; any committed write moves the data version
(core.audit.queries.data_version), so the next run reads afresh. What is overdue or due soon
depends on the day, which is part of each key. Each entry is kept for the person who read it
(the whole actor: "My actions" are theirs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from core.actions.queries import RegisterFilters
from core.auth.actor import Actor
from core.config import settings
from core.views import actions as views
from ui.governance import TTL_SECONDS, version

__all__ = ["filter_choices", "page"]


def filter_choices(actor: Actor) -> views.RegisterChoices:
    """The owners and services the actor's register holds, by name."""
    return _filter_choices(version(), actor)


def page(actor: Actor, filters: RegisterFilters, *, today: date) -> views.RegisterPage:
    """The first rows that match, and the figures over all of them, as of `today`."""
    return _page(version(), actor, filters, today)


# `version` and `day` are named without an underscore so that Streamlit keys the entries by
# them; the actor and the filters by their repr (every field, as the dataclasses write it):
# Streamlit's own hashing of an actor took 0.2 ms.
BY_REPR: dict[Any, Callable[[Any], Any]] = {Actor: repr, RegisterFilters: repr}


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=256, hash_funcs=BY_REPR)
def _filter_choices(version: int, actor: Actor) -> views.RegisterChoices:
    return views.register_filter_choices(actor)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=256, hash_funcs=BY_REPR)
def _page(version: int, actor: Actor, filters: RegisterFilters, day: date) -> views.RegisterPage:
    return views.register_page(actor, filters, today=day, rules=settings())
