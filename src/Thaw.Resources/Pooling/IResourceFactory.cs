namespace Thaw.Resources.Pooling;

/// <summary>How a pool crafts, recycles and destroys one kind of kernel resource.</summary>
public interface IResourceFactory<T> where T : class
{
    /// <summary>Crafts one resource. Called by the refill worker, or on the request path on a miss.</summary>
    T Create();

    /// <summary>
    /// Checks and resets a released resource so the next sandbox cannot tell it was used.
    /// Returns false when it cannot be trusted again; the pool then destroys it.
    /// </summary>
    bool TryRecycle(T item);

    /// <summary>Removes the resource from the kernel. Must not throw for an already half-gone resource.</summary>
    void Destroy(T item);
}
