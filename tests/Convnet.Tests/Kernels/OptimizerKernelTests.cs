using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// The vectorised Adam step against its scalar twin, bit for bit over several steps: the kernel
/// avoids fused multiply-add precisely so that every element sees the same sequence of roundings.
/// </summary>
public class OptimizerKernelTests
{
    public sealed record AdamCase(int Length, int Steps, float LearningRate, int Seed);

    [Property(MaxTest = 100)]
    public Property Adam_equals_AdamScalar_bit_for_bit_over_several_steps()
    {
        var cases =
            from length in Gen.Frequency((3, Gen.Elements(0, 1, 15, 16, 17, 31, 32, 33, 64)), (2, Gen.Choose(0, 300)))
            from steps in Gen.Choose(1, 5)
            from lr in Gen.Elements(1e-3f, 1e-2f, 0.1f)
            from seed in Gen.Choose(0, int.MaxValue)
            select new AdamCase(length, steps, lr, seed);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var w = Numerics.Uniform(ref rng, c.Length);
            var wScalar = (float[])w.Clone();
            var m = new float[c.Length];
            var v = new float[c.Length];
            var mScalar = new float[c.Length];
            var vScalar = new float[c.Length];
            const float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-7f;
            for (int t = 1; t <= c.Steps; t++)
            {
                // Gradients over several orders of magnitude, some exactly 0.
                var g = new float[c.Length];
                for (int i = 0; i < g.Length; i++)
                {
                    g[i] = rng.NextInt(10) == 0 ? 0 : rng.NextFloat(-1, 1) * MathF.Pow(10, -rng.NextInt(8));
                }
                float bc1 = (float)(1 - Math.Pow(beta1, t));
                float bc2 = (float)(1 - Math.Pow(beta2, t));
                OptimizerKernels.Adam(w, g, m, v, c.LearningRate, beta1, beta2, epsilon, bc1, bc2);
                OptimizerKernels.AdamScalar(wScalar, g, mScalar, vScalar, c.LearningRate, beta1, beta2, epsilon, bc1, bc2);
                Numerics.AssertBitEqual(mScalar, m, $"m after step {t} of {c}");
                Numerics.AssertBitEqual(vScalar, v, $"v after step {t} of {c}");
                Numerics.AssertBitEqual(wScalar, w, $"w after step {t} of {c}");
            }
        });
    }

    [Property(MaxTest = 60)]
    public Property AdamW_and_RmsProp_equal_their_scalar_twins_bit_for_bit_over_several_steps()
    {
        var cases =
            from length in Gen.Frequency((3, Gen.Elements(0, 1, 15, 16, 17, 31, 32, 33, 64)), (2, Gen.Choose(0, 300)))
            from steps in Gen.Choose(1, 5)
            from lr in Gen.Elements(1e-3f, 1e-2f, 0.1f)
            from seed in Gen.Choose(0, int.MaxValue)
            select new AdamCase(length, steps, lr, seed);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var w = Numerics.Uniform(ref rng, c.Length);
            float[] wScalar = (float[])w.Clone(), r = (float[])w.Clone(), rScalar = (float[])w.Clone();
            float[] m = new float[c.Length], v = new float[c.Length], mScalar = new float[c.Length], vScalar = new float[c.Length];
            float[] ms = new float[c.Length], mom = new float[c.Length], msScalar = new float[c.Length], momScalar = new float[c.Length];
            for (int t = 1; t <= c.Steps; t++)
            {
                var g = new float[c.Length];
                for (int i = 0; i < g.Length; i++)
                {
                    g[i] = rng.NextInt(10) == 0 ? 0 : rng.NextFloat(-1, 1) * MathF.Pow(10, -rng.NextInt(8));
                }
                float bc1 = (float)(1 - Math.Pow(0.9f, t));
                float bc2 = (float)(1 - Math.Pow(0.999f, t));
                OptimizerKernels.AdamW(w, g, m, v, c.LearningRate, 0.9f, 0.999f, 1e-7f, bc1, bc2, 0.004f);
                OptimizerKernels.AdamWScalar(wScalar, g, mScalar, vScalar, c.LearningRate, 0.9f, 0.999f, 1e-7f, bc1, bc2, 0.004f);
                Numerics.AssertBitEqual(wScalar, w, $"AdamW w after step {t} of {c}");
                Numerics.AssertBitEqual(vScalar, v, $"AdamW v after step {t} of {c}");
                OptimizerKernels.RmsProp(r, g, ms, mom, c.LearningRate, 0.9f, 0.5f, 1e-7f);
                OptimizerKernels.RmsPropScalar(rScalar, g, msScalar, momScalar, c.LearningRate, 0.9f, 0.5f, 1e-7f);
                Numerics.AssertBitEqual(rScalar, r, $"RMSprop w after step {t} of {c}");
                Numerics.AssertBitEqual(momScalar, mom, $"RMSprop momentum after step {t} of {c}");
            }
        });
    }

    public sealed record AverageCase(int Length, int Steps, float Momentum, int Seed);

    [Property(MaxTest = 100)]
    public Property MovingAverage_equals_its_scalar_twin_bit_for_bit_over_several_steps()
    {
        var cases =
            from length in Gen.Frequency((3, Gen.Elements(0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 64)), (2, Gen.Choose(0, 300)))
            from steps in Gen.Choose(1, 5)
            from momentum in Gen.Elements(0f, 0.9f, 0.99f, 0.999f)
            from seed in Gen.Choose(0, int.MaxValue)
            select new AverageCase(length, steps, momentum, seed);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var average = Numerics.Uniform(ref rng, c.Length);
            var averageScalar = (float[])average.Clone();
            for (int t = 1; t <= c.Steps; t++)
            {
                var w = Numerics.Uniform(ref rng, c.Length, -3, 3);
                OptimizerKernels.MovingAverage(w, c.Momentum, average);
                OptimizerKernels.MovingAverageScalar(w, c.Momentum, averageScalar);
                Numerics.AssertBitEqual(averageScalar, average, $"average after step {t} of {c}");
            }
        });
    }
}
