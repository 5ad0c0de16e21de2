using System.Diagnostics;
using System.Text;
using Thaw.Linux.Processes;

namespace Thaw.Cli.Client;

/// <summary>
/// thawd as its own process, started as `thaw serve` would be (this executable, listening on a free
/// loopback port) and stopped with SIGTERM like any service: what the demo and the soak bench run
/// against, so that thawd's memory and descriptors are its own and a stop is a real one.
/// </summary>
internal sealed class ServeProcess
{
    private ServeProcess(Process process, string url)
    {
        Process = process;
        Url = url;
    }

    public Process Process { get; }

    /// <summary>The API's base URL, as thawd printed it when ready.</summary>
    public string Url { get; }

    /// <summary>Starts thawd with <paramref name="extra"/> arguments after the instance's and waits for "thawd ready on URL".</summary>
    public static Task<ServeProcess> StartAsync(string stateDir, string name, params string[] extra) =>
        StartAsync(["serve", "--listen", "127.0.0.1:0", "--state-dir", stateDir, "--name", name, .. extra], environment: null);

    /// <summary>
    /// As <see cref="StartAsync(string, string, string[])"/>, but thawd starts as a member of the
    /// cgroup2 directory <paramref name="cgroup"/>, as a service manager starts a unit's main process.
    /// </summary>
    public static Task<ServeProcess> StartInCgroupAsync(string cgroup, string stateDir, string name, params string[] extra) =>
        // The shell joins the cgroup and execs thawd: thawd is in it from its first instruction.
        StartAsync(["serve", "--listen", "127.0.0.1:0", "--state-dir", stateDir, "--name", name, .. extra], environment: null,
            wrapper: ["/bin/sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup]);

    /// <summary>
    /// Runs `thaw <paramref name="arguments"/>` (with <paramref name="environment"/> added; through
    /// <paramref name="wrapper"/>, a command that execs its arguments, if given) and waits for "thawd ready on URL".
    /// </summary>
    public static async Task<ServeProcess> StartAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, IReadOnlyList<string>? wrapper = null)
    {
        // This executable when it is thaw's; from a host that loaded thaw's assembly (the tests), thaw.dll beside it.
        bool self = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "thaw";
        string[] thaw = self ? [Environment.ProcessPath!] : ["dotnet", Path.Combine(AppContext.BaseDirectory, "thaw.dll")];
        string[] command = [.. wrapper ?? [], .. thaw];
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in command[1..])
            start.ArgumentList.Add(arg);
        foreach (var arg in arguments)
            start.ArgumentList.Add(arg);
        foreach (var (variable, value) in environment ?? new Dictionary<string, string>())
            start.Environment[variable] = value;
        var process = Process.Start(start)!;
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        string? url = null;
        // Generous: under emulation (the cgroup v2 VM beside another one) a start took 100 s.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(300)))
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("thawd ready on ", StringComparison.Ordinal))
                {
                    url = line["thawd ready on ".Length..].Trim();
                    break;
                }
            }
        }
        if (url is null)
        {
            await process.WaitForExitAsync();
            lock (errors)
                throw new InvalidOperationException($"thawd did not start (exit {process.ExitCode}): {errors.ToString().Trim()}");
        }
        _ = process.StandardOutput.ReadToEndAsync(); // keep draining
        return new ServeProcess(process, url);
    }

    /// <summary>SIGTERM, then waits (calls finish, every sandbox, zygote and pooled resource goes); killed after 90 s.</summary>
    public async Task StopAsync()
    {
        if (!Process.HasExited)
            Signals.Terminate(Process.Id);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await Process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Process.Kill();
            await Process.WaitForExitAsync();
            throw new InvalidOperationException("thawd did not stop within 90 s of SIGTERM and was killed; the next start sweeps what it left");
        }
    }
}
