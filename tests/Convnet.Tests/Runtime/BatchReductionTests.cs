using Convnet.Runtime;
using Xunit;

namespace Convnet.Tests.Runtime;

public class BatchReductionTests
{
    // Samples of 121 rows (an 11×11 map) do not divide the 4,096-row segments: the segments split
    // samples, and a sample's rows are summed by two segments, each in its own buffer.
    [Theory]
    [InlineData(64, 121, 64, 1)]
    [InlineData(64, 121, 64, 2)]
    [InlineData(3, 25, 40, 2)]
    [InlineData(100, 169, 32, 2)]
    public void Column_sums_made_sample_by_sample_have_the_bits_of_the_whole_operand(int samples, int rowsPerSample, int n, int threads)
    {
        var random = new Random(samples + rowsPerSample + n);
        var dy = new float[samples * rowsPerSample * n];
        for (int i = 0; i < dy.Length; i++)
        {
            // Many exact zeros, as a pool's input gradient has.
            dy[i] = random.Next(4) == 0 ? (float)(random.NextDouble() - 0.5) * 1e-3f : 0f;
        }
        using var pool = new WorkerPool(threads);
        var whole = Enumerable.Range(0, n).Select(j => 0.25f * j).ToArray();
        var sourced = whole.ToArray();
        new BatchReduction().AccumulateColumnSums(pool, dy, 0, samples * rowsPerSample, n, whole, 0);
        int asked = 0;
        new BatchReduction().AccumulateColumnSums(pool, (sample, rows) =>
        {
            Interlocked.Increment(ref asked);
            dy.AsSpan(sample * rowsPerSample * n, rowsPerSample * n).CopyTo(rows);
        }, samples, rowsPerSample, n, sourced, 0);
        Assert.Equal(whole.Select(BitConverter.SingleToInt32Bits), sourced.Select(BitConverter.SingleToInt32Bits));
        Assert.InRange(asked, samples, samples + (samples * rowsPerSample + 4095) / 4096);
    }
}
