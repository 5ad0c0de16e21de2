using Thaw.Sandboxes.Zygotes;

namespace Thaw.Tests.Sandboxes.Zygotes;

/// <summary>The parked target from claims over time (a clock of the test's own: no waiting).</summary>
public sealed class ParkDemandTests
{
    private long _now = 1_000_000;

    private ParkDemand Demand(int min = 1, int max = 64, int memorySeconds = 60) => new(new ParkPolicy(min, max, TimeSpan.FromSeconds(memorySeconds)), () => _now);

    [Fact]
    public void A_burst_raises_the_target_to_its_size_at_once()
    {
        var demand = Demand();
        Assert.Equal(1, demand.Target());
        int target = 0;
        for (int i = 0; i < 20; i++)
            target = demand.Claim();
        Assert.Equal(20, target);
    }

    [Fact]
    public void A_burst_that_straddles_a_clock_second_counts_whole()
    {
        var demand = Demand();
        _now = 1_000_900; // 100 ms before a second turns
        int target = 0;
        for (int i = 0; i < 6; i++, _now += 40)
            target = demand.Claim();
        Assert.Equal(6, target); // clock-second buckets saw 3 and 3
        Assert.Equal(6, demand.Target());
        _now += 2_000;
        demand.Claim();
        Assert.Equal(6, demand.Target()); // a lone claim later does not lower the peak
    }

    [Fact]
    public void The_target_is_the_busiest_second_and_falls_back_once_it_is_forgotten()
    {
        var demand = Demand(memorySeconds: 60);
        for (int i = 0; i < 30; i++)
            demand.Claim();
        _now += 5_000;
        for (int i = 0; i < 4; i++)
            demand.Claim();
        Assert.Equal(30, demand.Target()); // the burst 5 s ago still counts
        _now += 56_500;
        Assert.Equal(4, demand.Target()); // the 30 are forgotten, the 4 not yet
        _now += 10 * 60_000;
        Assert.Equal(1, demand.Target()); // nothing left: the floor
    }

    [Fact]
    public void The_target_stays_within_its_bounds()
    {
        var demand = Demand(min: 2, max: 8);
        Assert.Equal(2, demand.Target());
        for (int i = 0; i < 100; i++)
            demand.Claim();
        Assert.Equal(8, demand.Target());
    }

    [Fact]
    public void Claims_spread_over_seconds_are_not_added_up()
    {
        var demand = Demand();
        for (int s = 0; s < 10; s++)
        {
            demand.Claim();
            demand.Claim();
            _now += 1_000;
        }
        Assert.Equal(2, demand.Target());
    }

    [Fact]
    public void Memory_caps_the_target_above_the_floor()
    {
        var demand = new ParkDemand(new ParkPolicy(2, 64, TimeSpan.FromSeconds(60), MaxBytes: 100 << 20), () => _now);
        for (int i = 0; i < 50; i++)
            demand.Claim();
        Assert.Equal(50, demand.Target());                 // child size not known yet
        Assert.Equal(25, demand.Target(childBytes: 4 << 20));
        Assert.Equal(2, demand.Target(childBytes: 1L << 30)); // never below the floor
    }
}
