"""Running hidden graders on a learner's file, and what graders assert with."""
