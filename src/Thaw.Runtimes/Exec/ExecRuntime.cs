using System.Text;
using System.Text.Json;
using Thaw.Resources.Cgroups;
using Thaw.Runtimes.Functions;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;

namespace Thaw.Runtimes.Exec;

/// <summary>
/// Functions that are any program (<c>runtime = "exec"</c>, <c>command = [...]</c>): one fresh
/// sandbox per call, as CGI and OpenFaaS's classic watchdog do. The event (JSON) is the program's
/// stdin, its stdout is the result (JSON if it parses, else the text as a JSON string; nothing is
/// null), its stderr goes to the function's log, exit code 0 is success. Nothing is kept warm: the
/// exec path is a pool claim and one clone (~2 ms after idle), and a process that served a call
/// keeps no state for the next.
/// </summary>
public sealed class ExecRuntime(SandboxSpawner spawner, ExecRuntimeOptions options)
{
    private const int StderrTailChars = 4096;

    /// <summary>
    /// Runs one call of <paramref name="function"/> to its end. Throws <see cref="SandboxException"/>
    /// (or a <see cref="Thaw.Sandboxes.Zygotes.ZygoteException"/>) if it could not start.
    /// </summary>
    public async Task<ExecRun> RunAsync(FunctionManifest function, string codeDir, ReadOnlyMemory<byte> eventJson, Action<ReadOnlyMemory<byte>>? stderr)
    {
        if (function.Runtime != "exec")
            throw new ArgumentException($"function '{function.Name}' uses the {function.Runtime} runtime, not exec");
        var stdout = new Output(options.MaxOutputBytes);
        // The spawner's default environment, the manifest's own variables on top.
        var env = new Dictionary<string, string>(spawner.DefaultEnvironment);
        foreach (var (key, value) in function.Environment)
            env[key] = value;
        var spec = new SandboxSpec
        {
            Argv = function.Command,
            CodeDir = codeDir,
            // A copy: the caller's buffer (pooled, in thawd) goes back when the call returns, and a
            // program that exits without reading can leave the write pending that long.
            Stdin = eventJson.ToArray(),
            Limits = new CgroupLimits(function.MemoryBytes, options.CpuQuota, options.PidsMax),
            Timeout = function.Timeout,
            Environment = env,
            Hostname = "thaw-" + function.Name,
        };
        Sandbox sandbox;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                sandbox = await spawner.RunAsync(spec, stdout.Write, stderr).ConfigureAwait(false);
                break;
            }
            catch (Thaw.Sandboxes.Zygotes.ZygoteGoneException) when (attempt < options.StartAttempts)
            {
                // Its zygote died before the clone (nothing of the call ran): the spawner starts a replacement.
            }
        }
        var exit = await sandbox.Exited.ConfigureAwait(false);
        return new ExecRun(sandbox, exit, Outcome(exit, stdout, sandbox, options.MaxOutputBytes));
    }

    /// <summary>The call's result from how the program ended and what it wrote.</summary>
    private static Invocation Outcome(SandboxExit exit, Output stdout, Sandbox sandbox, int limit)
    {
        double ms = SandboxTimings.Ms(sandbox.Timings.Started, exit.ExitedAt);
        string Tail()
        {
            string text = sandbox.Stderr.ToString();
            return text.Length > StderrTailChars ? text[^StderrTailChars..] : text;
        }
        if (exit.Error is not null)
            return new Invocation(null, new HandlerError("ExecError", exit.Error, Tail()), ms);
        if (exit.ExitCode != 0)
            return new Invocation(null, new HandlerError(exit.ExitCode is null ? "Signal" : "ExitCode",
                exit.ExitCode is int code ? $"the program exited with code {code}" : $"the program was killed by signal {exit.Signal}", Tail()), ms);
        if (stdout.Overflowed)
            return new Invocation(null, new HandlerError("OutputTooLarge", $"the program wrote over {limit} bytes to stdout (its result)", Tail()), ms);
        return new Invocation(Result(stdout.ToArray()), null, ms);
    }

    /// <summary>stdout as a JSON value: itself if it is one, else its text as a string; empty is null.</summary>
    internal static JsonElement Result(byte[] stdout)
    {
        var trimmed = stdout.AsSpan().Trim(" \t\r\n"u8);
        if (trimmed.IsEmpty)
            return JsonDocument.Parse("null").RootElement.Clone();
        try
        {
            using var doc = JsonDocument.Parse(trimmed.ToArray());
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(Encoding.UTF8.GetString(stdout));
        }
    }

    /// <summary>stdout as it arrives (on the spawner's reader), up to the limit.</summary>
    private sealed class Output(int limit)
    {
        private readonly MemoryStream _bytes = new();

        public bool Overflowed { get; private set; }

        public void Write(ReadOnlyMemory<byte> chunk)
        {
            lock (_bytes)
            {
                if (_bytes.Length + chunk.Length > limit)
                    Overflowed = true;
                else
                    _bytes.Write(chunk.Span);
            }
        }

        public byte[] ToArray()
        {
            lock (_bytes)
                return _bytes.ToArray();
        }
    }
}

/// <summary>One exec call: its sandbox (gone now: resources returned), how it ended, and the call's result or error.</summary>
public sealed record ExecRun(Sandbox Sandbox, SandboxExit Exit, Invocation Invocation);
