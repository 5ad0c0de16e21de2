namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// What a zygote reports about one sandbox. Called on the connection's reader thread: implementations
/// hand anything slow to the thread pool.
/// </summary>
internal interface IZygoteEvents
{
    void OnStarted(int pid);

    void OnExited(int? code, int? signal, string? error);

    /// <summary>The zygote died (or thawd closed it) before reporting the exit.</summary>
    void OnZygoteLost();
}
