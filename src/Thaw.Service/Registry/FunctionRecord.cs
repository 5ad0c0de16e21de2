namespace Thaw.Service.Registry;

/// <summary>
/// The deployed version of one function, as the registry keeps it.
/// </summary>
/// <param name="Name">The function's name; also its directory name in the code store.</param>
/// <param name="Version">
/// 1-based; every deploy of <paramref name="Name"/> takes the next number and none is reused, even
/// after the function was removed and deployed again, so a version names one archive for good
/// (logs, metrics and warm sandboxes of an older deploy can never be mistaken for the new one).
/// </param>
/// <param name="CodeDir">Absolute path of this version's extracted directory in the code store.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the deployed archive.</param>
/// <param name="DeployedAt">When the deploy was committed, in UTC.</param>
/// <param name="Installed">Packages the deploy installed, as install-cache directory names (e.g. "requests-2.31.0").</param>
/// <param name="Zygote">The zygote the function forks from: "root", or the packages it pre-imports (e.g. "numpy,PIL").</param>
/// <param name="Modules">
/// The modules its deploy's validation start loaded from packages (as the runtime reports them):
/// after a restart its zygote is rebuilt importing exactly these (top-level names alone would miss
/// e.g. PIL.Image, which "import PIL" does not load).
/// </param>
public sealed record FunctionRecord(
    string Name,
    int Version,
    string CodeDir,
    string Sha256,
    DateTimeOffset DeployedAt,
    IReadOnlyList<string> Installed,
    string Zygote,
    IReadOnlyList<string> Modules);
