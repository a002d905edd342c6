using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>The optimizers' per-parameter update rules over spans (a 512-bit path each, with a scalar twin).</summary>
public static class OptimizerKernels
{
    /// <summary>
    /// One Adam step as in Kingma and Ba (2015), Algorithm 1: m ← β1·m + (1−β1)·g,
    /// v ← β2·v + (1−β2)·g², w ← w − lr · (m / bc1) / (√(v / bc2) + ε), with bc = 1 − βᵗ.
    /// No fused multiply-add, so the vector and scalar paths agree bit for bit.
    /// </summary>
    // w, g, m, v: [n]
    public static void Adam(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float lr, float beta1, float beta2, float epsilon, float bc1, float bc2)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b1 = Vector512.Create(beta1);
            var b2 = Vector512.Create(beta2);
            var c1 = Vector512.Create(1 - beta1);
            var c2 = Vector512.Create(1 - beta2);
            var rate = Vector512.Create(lr);
            var eps = Vector512.Create(epsilon);
            var inv1 = Vector512.Create(bc1);
            var inv2 = Vector512.Create(bc2);
            for (; i <= w.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.Create(g.Slice(i, Vector512<float>.Count));
                var mi = b1 * Vector512.Create(m.Slice(i, Vector512<float>.Count)) + c1 * gi;
                var vi = b2 * Vector512.Create(v.Slice(i, Vector512<float>.Count)) + c2 * (gi * gi);
                var wi = Vector512.Create(w.Slice(i, Vector512<float>.Count)) - rate * (mi / inv1) / (Vector512.Sqrt(vi / inv2) + eps);
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                wi.CopyTo(w.Slice(i));
            }
        }
        AdamScalar(w[i..], g[i..], m[i..], v[i..], lr, beta1, beta2, epsilon, bc1, bc2);
    }

    /// <summary>The scalar twin of <see cref="Adam"/>.</summary>
    public static void AdamScalar(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float lr, float beta1, float beta2, float epsilon, float bc1, float bc2)
    {
        for (int i = 0; i < w.Length; i++)
        {
            float gi = g[i];
            float mi = beta1 * m[i] + (1 - beta1) * gi;
            float vi = beta2 * v[i] + (1 - beta2) * (gi * gi);
            m[i] = mi;
            v[i] = vi;
            w[i] = w[i] - lr * (mi / bc1) / (MathF.Sqrt(vi / bc2) + epsilon);
        }
    }

    /// <summary>
    /// One AdamW step (Loshchilov and Hutter, 2019), decoupled weight decay:
    /// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − lr·((m / bc1) / (√(v / bc2) + ε) + λ·w).
    /// </summary>
    // w, g, m, v: [n]
    public static void AdamW(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float lr, float beta1, float beta2, float epsilon, float bc1, float bc2, float weightDecay)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b1 = Vector512.Create(beta1);
            var b2 = Vector512.Create(beta2);
            var c1 = Vector512.Create(1 - beta1);
            var c2 = Vector512.Create(1 - beta2);
            var rate = Vector512.Create(lr);
            var eps = Vector512.Create(epsilon);
            var inv1 = Vector512.Create(bc1);
            var inv2 = Vector512.Create(bc2);
            var decay = Vector512.Create(weightDecay);
            for (; i <= w.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.Create(g.Slice(i, Vector512<float>.Count));
                var mi = b1 * Vector512.Create(m.Slice(i, Vector512<float>.Count)) + c1 * gi;
                var vi = b2 * Vector512.Create(v.Slice(i, Vector512<float>.Count)) + c2 * (gi * gi);
                var w0 = Vector512.Create(w.Slice(i, Vector512<float>.Count));
                var wi = w0 - rate * ((mi / inv1) / (Vector512.Sqrt(vi / inv2) + eps) + decay * w0);
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                wi.CopyTo(w.Slice(i));
            }
        }
        AdamWScalar(w[i..], g[i..], m[i..], v[i..], lr, beta1, beta2, epsilon, bc1, bc2, weightDecay);
    }

    /// <summary>The scalar twin of <see cref="AdamW"/>.</summary>
    public static void AdamWScalar(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float lr, float beta1, float beta2, float epsilon, float bc1, float bc2, float weightDecay)
    {
        for (int i = 0; i < w.Length; i++)
        {
            float gi = g[i];
            float mi = beta1 * m[i] + (1 - beta1) * gi;
            float vi = beta2 * v[i] + (1 - beta2) * (gi * gi);
            m[i] = mi;
            v[i] = vi;
            w[i] = w[i] - lr * ((mi / bc1) / (MathF.Sqrt(vi / bc2) + epsilon) + weightDecay * w[i]);
        }
    }

    /// <summary>
    /// One RMSprop step as Keras (and TensorFlow's ApplyRMSProp), ε inside the root:
    /// v ← ρ·v + (1−ρ)·g², mom ← μ·mom + lr·g / √(v + ε), w ← w − mom.
    /// </summary>
    // w, g, v, mom: [n]
    public static void RmsProp(Span<float> w, ReadOnlySpan<float> g, Span<float> v, Span<float> mom, float lr, float rho, float momentum, float epsilon)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var r = Vector512.Create(rho);
            var c = Vector512.Create(1 - rho);
            var mu = Vector512.Create(momentum);
            var rate = Vector512.Create(lr);
            var eps = Vector512.Create(epsilon);
            for (; i <= w.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.Create(g.Slice(i, Vector512<float>.Count));
                var vi = r * Vector512.Create(v.Slice(i, Vector512<float>.Count)) + c * (gi * gi);
                var mi = mu * Vector512.Create(mom.Slice(i, Vector512<float>.Count)) + rate * gi / Vector512.Sqrt(vi + eps);
                var wi = Vector512.Create(w.Slice(i, Vector512<float>.Count)) - mi;
                vi.CopyTo(v.Slice(i));
                mi.CopyTo(mom.Slice(i));
                wi.CopyTo(w.Slice(i));
            }
        }
        RmsPropScalar(w[i..], g[i..], v[i..], mom[i..], lr, rho, momentum, epsilon);
    }

    /// <summary>The scalar twin of <see cref="RmsProp"/>.</summary>
    public static void RmsPropScalar(Span<float> w, ReadOnlySpan<float> g, Span<float> v, Span<float> mom, float lr, float rho, float momentum, float epsilon)
    {
        for (int i = 0; i < w.Length; i++)
        {
            float gi = g[i];
            float vi = rho * v[i] + (1 - rho) * (gi * gi);
            float mi = momentum * mom[i] + lr * gi / MathF.Sqrt(vi + epsilon);
            v[i] = vi;
            mom[i] = mi;
            w[i] = w[i] - mi;
        }
    }

    /// <summary>
    /// Exponential moving average of the weights (Keras's use_ema): avg ← μ·avg + (1−μ)·w.
    /// No fused multiply-add, so the vector and scalar paths agree bit for bit. Like the other
    /// optimizer kernels it has only a 512-bit path: one pass over the weights per step, under 1% of one.
    /// </summary>
    // w, average: [n]
    public static void MovingAverage(ReadOnlySpan<float> w, float momentum, Span<float> average)
    {
        if (w.Length != average.Length)
        {
            throw new ArgumentException($"w has {w.Length} elements, average {average.Length}.", nameof(average));
        }
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var mu = Vector512.Create(momentum);
            var rest = Vector512.Create(1 - momentum);
            for (; i <= w.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var ai = mu * Vector512.Create(average.Slice(i, Vector512<float>.Count)) + rest * Vector512.Create(w.Slice(i, Vector512<float>.Count));
                ai.CopyTo(average.Slice(i));
            }
        }
        MovingAverageScalar(w[i..], momentum, average[i..]);
    }

    /// <summary>The scalar twin of <see cref="MovingAverage"/>.</summary>
    public static void MovingAverageScalar(ReadOnlySpan<float> w, float momentum, Span<float> average)
    {
        if (w.Length != average.Length)
        {
            throw new ArgumentException($"w has {w.Length} elements, average {average.Length}.", nameof(average));
        }
        for (int i = 0; i < w.Length; i++)
        {
            average[i] = momentum * average[i] + (1 - momentum) * w[i];
        }
    }

    /// <summary>g ← g·scale for every gradient; used by clipping by global norm.</summary>
    public static void Scale(Span<float> g, float scale)
    {
        for (int i = 0; i < g.Length; i++)
        {
            g[i] *= scale;
        }
    }

    /// <summary>Σ g² in double, in order.</summary>
    public static double SumOfSquares(ReadOnlySpan<float> g)
    {
        double sum = 0;
        foreach (float x in g)
        {
            sum += (double)x * x;
        }
        return sum;
    }

    /// <summary>SGD with momentum as Keras: velocity ← μ·velocity − lr·g; w ← w + velocity.</summary>
    // w, g, velocity: [n]
    public static void SgdMomentum(Span<float> w, ReadOnlySpan<float> g, Span<float> velocity, float lr, float momentum)
    {
        for (int i = 0; i < w.Length; i++)
        {
            velocity[i] = momentum * velocity[i] - lr * g[i];
            w[i] += velocity[i];
        }
    }
}
