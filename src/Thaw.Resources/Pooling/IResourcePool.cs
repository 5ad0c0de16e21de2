namespace Thaw.Resources.Pooling;

/// <summary>What every pool offers regardless of the resource it holds.</summary>
public interface IResourcePool
{
    string Name { get; }

    PoolStats Stats();

    bool WaitUntilFull(TimeSpan timeout);
}
