/* Preloaded by test_cli_env (LD_PRELOAD): OpenBLAS reports the "Prescott" kernels it
 * falls back to on CPUs its table does not know, whatever it runs here. */
char *openblas_get_corename(void);

char *openblas_get_corename(void)
{
    static char name[] = "Prescott";
    return name;
}
