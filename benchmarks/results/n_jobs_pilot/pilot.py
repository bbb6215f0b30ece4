from gensr.bench.runner import BenchConfig, run
TWO = "gensr.bench.methods:fit_gensr"
probs = ("feynman_I_37_4","feynman_test_11","feynman_I_15_3x","feynman_III_14_14","feynman_I_41_16","feynman_I_6_2b","feynman_test_3","feynman_test_10")
cfg = BenchConfig(suites=("feynman",), methods=("gensr", TWO), time_limit=30, max_train=10000, problems=probs,
                  options={TWO: {"search": {"terms.every": 2, "edits.every": 1}}}, symbolic_timeout=20.0)
run(cfg, "../shared/benchdata", "/tmp/w/pilot_terms", progress=False)
