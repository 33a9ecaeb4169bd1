/**
 * Weighted sampling in O(1) per draw with Vose's alias method: index i is
 * returned with probability weights[i] / sum(weights). Building costs O(n);
 * a draw costs one uniform number, one multiply and one comparison, and
 * allocates nothing.
 */
export class WeightedSampler {
  private probability = new Float64Array(0);
  private alias = new Int32Array(0);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Replaces the distribution. Precondition: every weight in `weights[0..count)`
   * is finite and above zero. O(count).
   */
  reset(weights: ArrayLike<number>, count: number): void {
    if (this.probability.length < count) {
      this.probability = new Float64Array(count);
      this.alias = new Int32Array(count);
    }
    this.count = count;
    if (count === 0) return;
    let total = 0;
    for (let i = 0; i < count; i++) total += weights[i]!;
    const scaled = new Float64Array(count);
    const small = new Int32Array(count);
    const large = new Int32Array(count);
    let smallTop = 0;
    let largeTop = 0;
    for (let i = 0; i < count; i++) {
      scaled[i] = (weights[i]! * count) / total;
      if (scaled[i]! < 1) small[smallTop++] = i;
      else large[largeTop++] = i;
    }
    while (smallTop > 0 && largeTop > 0) {
      const less = small[--smallTop]!;
      const more = large[largeTop - 1]!;
      this.probability[less] = scaled[less]!;
      this.alias[less] = more;
      scaled[more] = scaled[more]! + scaled[less]! - 1;
      if (scaled[more]! < 1) {
        largeTop--;
        small[smallTop++] = more;
      }
    }
    // What is left is 1 up to rounding error.
    while (largeTop > 0) {
      const i = large[--largeTop]!;
      this.probability[i] = 1;
      this.alias[i] = i;
    }
    while (smallTop > 0) {
      const i = small[--smallTop]!;
      this.probability[i] = 1;
      this.alias[i] = i;
    }
  }

  /** Draws an index from a uniform `u` in [0, 1). Precondition: size > 0. O(1). */
  sample(u: number): number {
    const x = u * this.count;
    const column = Math.floor(x);
    return x - column < this.probability[column]! ? column : this.alias[column]!;
  }
}
