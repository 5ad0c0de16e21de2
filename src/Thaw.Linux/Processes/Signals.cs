namespace Thaw.Linux.Processes;

/// <summary>Signals to processes Thaw started itself (thawd from `thaw demo`).</summary>
public static class Signals
{
    private const int SigTerm = 15;
    private const int NoSuchProcess = 3; // ESRCH

    /// <summary>Asks <paramref name="pid"/> to stop (SIGTERM); false when it is already gone.</summary>
    public static bool Terminate(int pid)
    {
        if (Interop.Kill(pid, SigTerm) == 0)
            return true;
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (errno == NoSuchProcess)
            return false;
        throw new LinuxException("kill", errno, $"pid {pid}, SIGTERM");
    }
}
