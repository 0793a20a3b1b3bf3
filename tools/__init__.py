"""Developer tooling that ships with meshframes (the hwsim harness lives in
tools.hwsim)."""
