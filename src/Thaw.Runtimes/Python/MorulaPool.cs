using Thaw.Sandboxes.Zygotes;

namespace Thaw.Runtimes.Python;

/// <summary>A Morula zygote and the modules its interpreters import; counts the sandboxes it has out.</summary>
internal sealed class MorulaPool(Zygote zygote, IReadOnlyList<string> modules)
{
    private int _live;
    private int _retired;

    public Zygote Zygote { get; } = zygote;

    public IReadOnlyList<string> Modules { get; } = modules;

    /// <summary>Set when a sandbox loaded more than <see cref="Modules"/>: the next claim builds a pool that imports it all.</summary>
    public IReadOnlyList<string>? Wanted { get; set; }

    public MorulaPool Join()
    {
        Interlocked.Increment(ref _live);
        return this;
    }

    public void Leave()
    {
        if (Interlocked.Decrement(ref _live) == 0 && Volatile.Read(ref _retired) == 1)
            Zygote.Dispose();
    }

    public void Retire()
    {
        Volatile.Write(ref _retired, 1);
        if (Volatile.Read(ref _live) == 0)
            Zygote.Dispose();
    }
}
