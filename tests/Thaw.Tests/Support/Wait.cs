using System.Diagnostics;

namespace Thaw.Tests.Support;

internal static class Wait
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test with <paramref name="what"/> otherwise.</summary>
    public static void Until(Func<bool> condition, string what, int timeoutMs = 5000)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.ElapsedMilliseconds < timeoutMs, $"not within {timeoutMs} ms: {what}");
            Thread.Sleep(5);
        }
    }

    /// <summary>Polls <paramref name="condition"/> without blocking a thread; fails the test on timeout.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string? what = null)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < timeout, $"not within {timeout.TotalSeconds} s: {what ?? "condition"}");
            await Task.Delay(5);
        }
    }

    /// <summary>Fetches until the value satisfies <paramref name="done"/> (10 s at most) and returns it.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> fetch, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var value = await fetch();
            if (done(value))
                return value;
            Assert.True(sw.Elapsed < (timeout ?? TimeSpan.FromSeconds(10)), $"not within {(timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds} s; last: {value}");
            await Task.Delay(20);
        }
    }
}
