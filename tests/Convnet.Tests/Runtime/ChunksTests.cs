using Convnet.Runtime;
using Xunit;

namespace Convnet.Tests.Runtime;

public class ChunksTests
{
    // A part is whole runs of a kernel's images, at least Chunks.Part of them, and divides a chunk.
    [Theory]
    [InlineData(1, 4)]
    [InlineData(2, 4)]
    [InlineData(3, 16)]
    [InlineData(4, 4)]
    [InlineData(5, 16)]
    [InlineData(8, 8)]
    [InlineData(16, 16)]
    [InlineData(64, 16)]
    public void PartOf_is_the_smallest_multiple_of_the_run_that_divides_a_chunk(int samples, int part)
    {
        Assert.Equal(part, Chunks.PartOf(samples));
        Assert.Equal(0, Chunks.Size % part);
    }
}
