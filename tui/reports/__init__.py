"""Output formats that CI systems read: JUnit XML (`test`), SARIF (`check`), GitHub workflow
commands (`verify`). One module per format; each turns the engine's results into text and
imports nothing heavier than the standard library."""
