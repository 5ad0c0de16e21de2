using System.Globalization;
using System.Text;

namespace Thaw.Service.Functions;

/// <summary>
/// A function's recent log: its sandboxes' stdout and stderr, line by line with time, version and
/// stream, plus what thawd says about its calls (errors, timeouts). Bounded: the oldest lines go
/// first once <c>limitBytes</c> is reached, so a chatty function cannot grow thawd's memory. With a
/// <c>path</c>, the lines also go to a <see cref="LogFile"/> (at most twice the limit on disk) and a
/// new FunctionLog starts with what that file kept: the log outlives a restart of thawd.
/// </summary>
public sealed class FunctionLog : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Queue<string> _lines = new();
    private readonly int _limitBytes;
    private readonly LogFile? _file;
    private long _bytes;

    public FunctionLog(int limitBytes, string? path = null)
    {
        _limitBytes = limitBytes;
        if (path is null)
            return;
        foreach (var line in LogFile.ReadLines(path))
            Keep(line);
        _file = new LogFile(path, limitBytes);
    }

    /// <summary>Receivers for one sandbox's output; a partial line waits for its end (or is cut at 4 KiB).</summary>
    public Thaw.Runtimes.Python.SandboxOutput For(int version)
    {
        var stdout = new LineSplitter(this, version, "stdout");
        var stderr = new LineSplitter(this, version, "stderr");
        return new(stdout.Write, stderr.Write);
    }

    /// <summary>A line from thawd itself about the function.</summary>
    public void Note(int version, string text)
    {
        foreach (var line in text.Split('\n'))
            Append(version, "thawd", line);
    }

    /// <summary>The newest <paramref name="count"/> lines, oldest first.</summary>
    public IReadOnlyList<string> Tail(int count)
    {
        lock (_lock)
            return [.. _lines.Skip(Math.Max(0, _lines.Count - count))];
    }

    private void Append(int version, string stream, string text)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} v{version} {stream}: {text}");
        lock (_lock)
        {
            Keep(line);
            _file?.Append(line);
        }
    }

    private void Keep(string line)
    {
        _lines.Enqueue(line);
        _bytes += line.Length;
        while (_bytes > _limitBytes && _lines.Count > 1)
            _bytes -= _lines.Dequeue().Length;
    }

    /// <summary>Forgets the log, on disk too (its function was removed).</summary>
    public void Delete()
    {
        lock (_lock)
            _file?.Delete();
    }

    /// <summary>Deletes what a log at <paramref name="path"/> kept on disk.</summary>
    public static void DeleteFiles(string path) => LogFile.DeleteFiles(path);

    public void Dispose()
    {
        lock (_lock)
            _file?.Dispose();
    }

    private sealed class LineSplitter(FunctionLog log, int version, string stream)
    {
        private readonly StringBuilder _partial = new();

        public void Write(ReadOnlyMemory<byte> chunk)
        {
            string text = Encoding.UTF8.GetString(chunk.Span);
            lock (_partial)
            {
                foreach (char c in text)
                {
                    if (c == '\n' || _partial.Length >= 4096)
                    {
                        log.Append(version, stream, _partial.ToString());
                        _partial.Clear();
                        if (c == '\n')
                            continue;
                    }
                    _partial.Append(c);
                }
            }
        }
    }
}
