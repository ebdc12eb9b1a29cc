"""Given parts for the later phases: the GPT of Phases 2–3, complete and tested, so a step about
training or alignment grades that step alone and a slip in an earlier file cannot spoil it.

    from mentor.lab import GPT, GPTConfig
"""

from mentor.lab.gpt import GPT, GPTConfig

__all__ = ["GPT", "GPTConfig"]
