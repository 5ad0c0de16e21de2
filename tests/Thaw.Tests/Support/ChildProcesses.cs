using System.Diagnostics;

namespace Thaw.Tests.Support;

/// <summary>Real child processes for kernel tests; whatever a test leaves running is killed on dispose.</summary>
internal sealed class ChildProcesses : IDisposable
{
    private readonly List<Process> _started = [];

    /// <summary>A process that just waits; joined into cgroups to watch what happens to it.</summary>
    public Process Sleep(int seconds = 300) => Start("/bin/sleep", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// python3 running <paramref name="code"/> only after a line arrives on stdin, so the test can
    /// move it into a cgroup before it does anything that the cgroup should limit.
    /// </summary>
    public Process PythonAfterGo(string code)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3", ["-c", "import sys; sys.stdin.readline()\n" + code])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        return Track(Process.Start(psi)!);
    }

    /// <summary>A shell loop that rewrites a counter in <paramref name="file"/> every 5 ms: proof that it runs.</summary>
    public Process Counter(string file) =>
        Start("/bin/sh", "-c", $"i=0; while :; do i=$((i+1)); echo $i > {file}; sleep 0.005; done");

    public Process Start(string program, params string[] args) => Track(Process.Start(new ProcessStartInfo(program, args))!);

    public static void Go(Process process)
    {
        process.StandardInput.WriteLine("go");
        process.StandardInput.Flush();
    }

    private Process Track(Process process)
    {
        _started.Add(process);
        return process;
    }

    public void Dispose()
    {
        foreach (var p in _started)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            p.Dispose();
        }
    }
}
