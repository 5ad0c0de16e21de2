using Thaw.Service.Functions;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service.Functions;

/// <summary>A function's log outlives its FunctionLog (thawd's restart) and stays bounded on disk.</summary>
public sealed class FunctionLogTests : IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-logs-");

    private string LogPath => Path.Combine(_dir, "logs", "hello.log");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Lines_survive_a_new_log_on_the_same_file()
    {
        using (var log = new FunctionLog(64 << 10, LogPath))
        {
            log.Note(1, "first");
            var output = log.For(1);
            output.Stdout!("printed by the handler\npartial "u8.ToArray());
            output.Stdout!("line\n"u8.ToArray());
        }
        using var again = new FunctionLog(64 << 10, LogPath);
        var tail = again.Tail(10);
        Assert.Equal(3, tail.Count);
        Assert.EndsWith("v1 thawd: first", tail[0], StringComparison.Ordinal);
        Assert.EndsWith("v1 stdout: printed by the handler", tail[1], StringComparison.Ordinal);
        Assert.EndsWith("v1 stdout: partial line", tail[2], StringComparison.Ordinal);
        again.Note(2, "after the restart");
        Assert.EndsWith("v2 thawd: after the restart", again.Tail(1)[0], StringComparison.Ordinal);
    }

    [Fact]
    public void On_disk_it_keeps_at_most_twice_the_limit_and_the_newest_lines()
    {
        const int Limit = 4096;
        using (var log = new FunctionLog(Limit, LogPath))
            for (int i = 0; i < 1000; i++)
                log.Note(1, $"line {i:D4} " + new string('x', 60));
        long onDisk = new FileInfo(LogPath).Length + new FileInfo(LogPath + ".1").Length;
        Assert.InRange(onDisk, Limit, 2 * Limit + 200); // two files, each cut after the line that passed the limit
        Assert.Equal(2, Directory.GetFiles(Path.GetDirectoryName(LogPath)!).Length);

        using var again = new FunctionLog(Limit, LogPath);
        var tail = again.Tail(1000);
        Assert.Contains("line 0999 ", tail[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(tail, l => l.Contains("line 0000 ", StringComparison.Ordinal));
        Assert.InRange(tail.Sum(l => l.Length), Limit / 2, Limit); // memory keeps its own bound

        again.Delete();
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(LogPath)!));
    }
}
