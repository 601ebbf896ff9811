"""Test configuration shared by every test module."""

from hypothesis import settings

# Property tests draw the same examples on every run: a red CI run can be reproduced exactly,
# and a green one does not depend on luck. Raise max_examples locally to search harder.
settings.register_profile("course", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("course")
