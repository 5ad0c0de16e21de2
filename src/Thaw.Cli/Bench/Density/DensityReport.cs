namespace Thaw.Cli.Bench.Density;

internal sealed record DensityOptions(int Count, int Parallel, int MemorySamples, int? ResumeCount, string FunctionMemory, long? BudgetBytes,
    double Overcommit, long OpenFiles, int PoolSize, long? PooledCgroupMemory, string StateDir);

/// <summary>Medians over the sampled idle sandboxes, and the node-wide cost per sandbox (census difference ÷ sandboxes).</summary>
internal sealed record DensityMemory(
    int Sampled,
    double ProcessesPerSandbox,
    long UssBytes,
    long PssBytes,
    long RssBytes,
    long PageTableBytes,
    long CgroupBytes,
    long CgroupKernelBytes,
    long NodeMemAvailableBytes,
    long NodeKernelUnreclaimableBytes,
    long NodePageTableBytes,
    long ThawdRssBytes);

internal sealed record DensityResume(int Count, double P50Ms, double P99Ms, double ThawP50Ms, int Cold);

/// <summary>How thawd's memory budget counted the idle sandboxes.</summary>
internal sealed record DensityBudget(string Accounting, double Overcommit, long BudgetBytes, long CountedBytes, long LimitBytes, long MeasuredBytes, long ZygoteBytes);

internal sealed record DensityReport(
    int Requested,
    int Held,
    int Functions,
    string? StoppedBy,
    double FillSeconds,
    double FreezeSeconds,
    double StopSeconds,
    DensityMemory Memory,
    DensityResume Resume,
    DensityBudget Budget,
    IReadOnlyList<DensityBound> Bounds,
    IReadOnlyList<string> LeftBehind,
    IReadOnlyList<string> Notes,
    string Host,
    DateTime StartedUtc);
