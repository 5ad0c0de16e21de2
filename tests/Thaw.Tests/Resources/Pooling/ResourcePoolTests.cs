using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Resources.Pooling;

namespace Thaw.Tests.Resources.Pooling;

/// <summary>The pool's own bookkeeping, with a factory of plain objects (the kernel-backed pools have their own tests).</summary>
public sealed class ResourcePoolTests
{
    private sealed class Item;

    private sealed class Factory : IResourceFactory<Item>
    {
        public readonly List<Item> Destroyed = [];
        public Item Create() => new();
        public bool TryRecycle(Item item) => true;
        public void Destroy(Item item) { lock (Destroyed) Destroyed.Add(item); }
    }

    [Fact]
    public void A_release_after_dispose_is_quiet_because_dispose_already_destroyed_what_was_lent()
    {
        var factory = new Factory();
        var pool = new ResourcePool<Item>("test", factory, target: 1, NullLogger.Instance);
        var lent = pool.Claim();
        pool.Dispose();
        Assert.Contains(lent, factory.Destroyed);

        pool.Release(lent); // a zygote that died while the host shut down gives its cgroup back late
        Assert.Single(factory.Destroyed, d => ReferenceEquals(d, lent));
    }

    [Fact]
    public void Releasing_what_a_live_pool_never_lent_is_a_bug_and_says_so()
    {
        using var pool = new ResourcePool<Item>("test", new Factory(), target: 0, NullLogger.Instance);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Release(new Item()));
        Assert.Contains("does not lend out", e.Message);
        var lent = pool.Claim();
        pool.Release(lent);
        Assert.Throws<InvalidOperationException>(() => pool.Release(lent)); // twice
    }
}
