using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Optimizers;

/// <summary>
/// A step updates the parameters in segments of <see cref="Optimizer.SegmentLength"/> values, on the
/// model's threads: it must give the bits of one pass over each parameter, on one thread or two.
/// </summary>
public class SegmentedStepTests
{
    // Parameters longer than a segment, one ending in a short segment, one shorter than a vector.
    private static readonly int[] Lengths = [40_000, 17, Optimizer.SegmentLength, 5, 2 * Optimizer.SegmentLength + 3];

    public static TheoryData<string> Optimizers => new() { "adam", "adamw", "sgd", "rmsprop", "adam-ema" };

    private static Optimizer Create(string name) => name switch
    {
        "adam" => new Adam(),
        "adamw" => new AdamW(),
        "sgd" => new Sgd(0.01f, momentum: 0.9f),
        "rmsprop" => new RmsProp(momentum: 0.5f),
        _ => new Adam(emaMomentum: 0.99f),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Two_threads_give_the_bits_of_one(string name)
    {
        var (oneStore, one) = Steps(name, pool: null);
        using var pool = new WorkerPool(2);
        var (twoStore, two) = Steps(name, pool);
        Assert.Equal(Bits(oneStore.Values), Bits(twoStore.Values));
        foreach (string slot in one.SlotNames)
        {
            Assert.Equal(Bits(one.GetSlot(slot, oneStore.Parameters)), Bits(two.GetSlot(slot, twoStore.Parameters)));
        }
    }

    [Fact]
    public void Adam_in_segments_gives_the_bits_of_one_pass_over_each_parameter()
    {
        var (store, _) = Steps("adam", pool: null, steps: 1);
        var (initial, gradients) = Inputs();
        float bc1 = (float)(1 - Math.Pow(0.9f, 1)), bc2 = (float)(1 - Math.Pow(0.999f, 1));
        int at = 0;
        foreach (int length in Lengths)
        {
            var w = initial.AsSpan(at, length).ToArray();
            var m = new float[length];
            var v = new float[length];
            OptimizerKernels.Adam(w, gradients.AsSpan(at, length), m, v, 1e-3f, 0.9f, 0.999f, 1e-7f, bc1, bc2);
            Assert.Equal(Bits(w), Bits(store.Values.AsSpan(at, length).ToArray()));
            at += length;
        }
    }

    private static (float[] Values, float[] Gradients) Inputs()
    {
        var rng = new Rng(7);
        int total = Lengths.Sum();
        return (Numerics.Uniform(ref rng, total), Numerics.Uniform(ref rng, total));
    }

    private static (ParameterStore, Optimizer) Steps(string name, WorkerPool? pool, int steps = 3)
    {
        var store = new ParameterStore();
        for (int i = 0; i < Lengths.Length; i++)
        {
            store.Add($"p{i}", Lengths[i]);
        }
        var (values, gradients) = Inputs();
        values.CopyTo(store.Values, 0);
        var optimizer = Create(name);
        for (int s = 0; s < steps; s++)
        {
            store.ZeroGradients();
            for (int i = 0; i < gradients.Length; i++)
            {
                store.Gradients[i] = gradients[i] * (s + 1);
            }
            optimizer.Step(store.Parameters, pool);
        }
        return (store, optimizer);
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
