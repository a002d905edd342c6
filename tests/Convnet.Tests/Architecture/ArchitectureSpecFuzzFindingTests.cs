using Convnet.Architecture;
using Convnet.Layers;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Architecture;

/// <summary>
/// Specs found by fuzzing the --arch parser (fuzz/README.md): sizes whose product overflows int
/// wrapped to small or negative counts and built a model with the wrong buffers. They must be
/// refused by name, before anything that size is allocated.
/// </summary>
public class ArchitectureSpecFuzzFindingTests
{
    private static readonly Shape Mnist = Shape.Image(28, 28, 1);

    [Theory]
    // 784 × 5,478,275 = 2^32 + 304: the kernel was a 304-value buffer for a 784×5478275 layer.
    [InlineData("flatten,dense5478275,dense10", 2, "dense5478275", "more than")]
    // 46341² > 2^31: a 1-filter kernel of 46341×46341 overflowed.
    [InlineData("conv1k46341same,gap", 1, "conv1k46341same", "more than")]
    // 28 × 28 × 3,000,000 > 2^31: the conv's output size wrapped negative.
    [InlineData("conv3000000k1,gap", 1, "conv3000000k1", "more than")]
    public void Sizes_that_overflow_int_are_refused_naming_the_token(string spec, int token, string text, string problem)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Build(spec, Mnist, 10, seed: 1, threads: 1));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(token, e.TokenNumber);
        Assert.Equal(text, e.Token);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"refusing '{spec}' allocated {allocated:N0} bytes");
    }

    [Theory]
    // Found by afl-fuzz in 6 minutes: 3×3×32×223,232 = 64 M weights, 514 MB with their gradients,
    // and an output of 24×24×223,232 values per sample.
    [InlineData("relu,conv32k3-conv223232k3", 2, "conv32k3-conv223232k3", "128,581,632 values per sample, more than the 4,000,000 a spec may build")]
    // The example: took 18 GB before it was killed.
    [InlineData("flatten,dense1000000,dense10", 2, "dense1000000", "785,000,000 parameters, more than the 50,000,000 a spec may build")]
    // Few parameters, but 940 MB of output per image (the fuzz harness's prediction ran out of memory).
    [InlineData("conv300000k3same,gap", 1, "conv300000k3same", "(28, 28, 300000), 235,200,000 values per sample")]
    public void A_spec_past_the_limits_is_refused_before_allocating(string spec, int token, string text, string problem)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Build(spec, Mnist, 10, seed: 1, threads: 1));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(token, e.TokenNumber);
        Assert.Equal(text, e.Token);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"refusing '{spec}' allocated {allocated:N0} bytes");
    }

    [Fact]
    public void The_appended_classifier_counts_too()
    {
        // 28 × 28 × 1000 = 784,000 features → dense100 appended: 78.4 M parameters.
        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Build("conv1000k1,flatten", Mnist, 100, seed: 1, threads: 1));

        Assert.Contains("the dense100 classifier after output (784000) would bring the model to 78,402,100 parameters", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_with_an_overflowing_layer_is_refused()
    {
        const string json = """[{"type": "Flatten"}, {"type": "Dense", "units": "5478275"}, {"type": "Dense", "units": "10"}]""";

        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.FromJson(json, Mnist, 10, seed: 1, threads: 1));

        Assert.Contains("more than", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shapes_and_parameters_count_in_long()
    {
        Assert.Throws<ArgumentException>(() => Shape.Image(65536, 65537, 1));
        Assert.Throws<ArgumentException>(() => Shape.Image(46341, 46341, 1));
        Assert.Equal(int.MaxValue, Shape.Image(1, 1, int.MaxValue).Size);

        var store = new ParameterStore();
        Assert.Throws<ArgumentException>(() => store.Add("dense.kernel", 784, 5478275));
        Assert.Equal(0, store.Count);
    }
}
