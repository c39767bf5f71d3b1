"""The command line: click commands that parse options, call one stage function and print.

`main` holds the group and the one error path; `options` the options several commands share;
one module per command family (`scan`, `library`, `plan`, `play`, `session`, `journal`,
`config`, `demo`). Command bodies import numpy, librosa and friends lazily so `dancer --help`
starts fast.
"""
