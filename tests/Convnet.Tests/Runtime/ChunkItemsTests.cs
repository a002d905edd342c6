using Convnet.Runtime;
using Xunit;

namespace Convnet.Tests.Runtime;

public class ChunkItemsTests
{
    // Every sample once, in order, each item inside one part of one chunk, no longer than a run
    // when it is not a whole part.
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(4, 1)]
    [InlineData(4, 2)]
    [InlineData(4, 3)]
    [InlineData(4, 4)]
    [InlineData(8, 4)]
    [InlineData(16, 2)]
    public void Items_cover_every_sample_once_in_order_within_their_part(int partSamples, int threads)
    {
        for (int runSamples = 1; runSamples <= partSamples; runSamples++)
        {
            if (partSamples % runSamples != 0)
            {
                continue;
            }
            foreach (int batch in new[] { 0, 1, 3, 15, 16, 17, 37, 64, 100, 257 })
            {
                var items = ChunkItems.Plan(batch, partSamples, runSamples, threads);
                int next = 0;
                for (int i = 0; i < items.Count; i++)
                {
                    var (chunk, start, count) = items[i];
                    if (count == 0)
                    {
                        continue;
                    }
                    Assert.Equal(next, start);
                    Assert.Equal(chunk, start / Chunks.Size);
                    Assert.Equal(start / partSamples, (start + count - 1) / partSamples);
                    Assert.True(count == partSamples || count <= runSamples || start + count == Math.Min(batch, (chunk + 1) * Chunks.Size),
                        $"batch {batch}, part {partSamples}, run {runSamples}: item {i} has {count} samples from {start}");
                    next += count;
                }
                Assert.Equal(batch, next);
            }
        }
    }

    [Fact]
    public void One_thread_or_runs_of_a_whole_part_keep_the_parts()
    {
        foreach (var items in new[] { ChunkItems.Plan(64, 4, 1, threads: 1), ChunkItems.Plan(64, 4, 4, threads: 2) })
        {
            Assert.Equal(16, items.Count);
            for (int i = 0; i < 16; i++)
            {
                Assert.Equal((i / 4, 4 * i, 4), items[i]);
            }
        }
    }

    // Two threads meet at part 8 of 16: parts 4..11 are split, into 32 runs of one sample.
    [Fact]
    public void Two_threads_split_the_parts_where_they_meet()
    {
        var items = ChunkItems.Plan(64, 4, 1, threads: 2);
        Assert.Equal(8 + 32, items.Count);
        Assert.Equal((0, 12, 4), items[3]);
        Assert.Equal((1, 16, 1), items[4]);
        Assert.Equal((2, 47, 1), items[35]);
        Assert.Equal((3, 48, 4), items[36]);
        Assert.Equal((3, 60, 4), items[39]);
    }

    [Fact]
    public void Parts_and_runs_must_divide_and_an_index_must_be_an_item()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkItems.Plan(64, 3, 1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkItems.Plan(64, 8, 3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkItems.Plan(64, 4, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkItems.Plan(-1, 4, 1, 2));
        var items = ChunkItems.Plan(64, 4, 2, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => items[items.Count]);
        Assert.Throws<ArgumentOutOfRangeException>(() => items[-1]);
    }
}
